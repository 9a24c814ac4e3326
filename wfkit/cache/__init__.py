"""Node result caches: what ``compile(cache=...)`` takes for the nodes
added with ``cache_policy=``. ``BaseCache`` is the contract (LangGraph's
shape: ``get``/``set``/``clear`` over ``(namespace, key)`` pairs, async
twins); :class:`~wfkit.cache.memory.InMemoryCache` keeps entries in the
process.
"""

from wfkit.cache.base import BaseCache, FullKey, Namespace

__all__ = ["BaseCache", "FullKey", "Namespace"]
