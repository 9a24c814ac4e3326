"""The cache contract: values under ``(namespace, key)``, each with an
optional time to live; the engine keys a node's result by the node's name
(the namespace) and a hash of its input (the key)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["BaseCache", "FullKey", "Namespace"]

Namespace = tuple[str, ...]
FullKey = tuple[Namespace, str]


class BaseCache(ABC):
    """A store of node results. ``get`` returns the entries found and not
    expired; ``set`` takes ``{full_key: (value, ttl_seconds_or_None)}``."""

    @abstractmethod
    def get(self, keys: Sequence[FullKey]) -> dict[FullKey, Any]: ...

    @abstractmethod
    def set(self, pairs: Mapping[FullKey, tuple[Any, float | None]]) -> None: ...

    @abstractmethod
    def clear(self, namespaces: Sequence[Namespace] | None = None) -> None:
        """Forget the entries of ``namespaces`` (all of them when None)."""

    async def aget(self, keys: Sequence[FullKey]) -> dict[FullKey, Any]:
        return self.get(keys)

    async def aset(self, pairs: Mapping[FullKey, tuple[Any, float | None]]) -> None:
        self.set(pairs)

    async def aclear(self, namespaces: Sequence[Namespace] | None = None) -> None:
        self.clear(namespaces)
