"""The long-term store contract, with ``langgraph.store.base``'s names.

A store keeps JSON-like dicts (``Item.value``) under a *namespace* (a tuple
of labels, like a folder path: ``("memories", user_id)``) and a *key*. Every
store implements one method, :meth:`BaseStore.batch`, which runs a list of
operations (:class:`GetOp`, :class:`PutOp`, :class:`SearchOp`,
:class:`ListNamespacesOp`); the verbs users call (``put``, ``get``,
``search``, ``delete``, ``list_namespaces``) and their async twins
(``aput``, ``aget``...) are written once here, on top of it::

    store.put(("memories", "ada"), "food", {"likes": "pizza"})
    store.get(("memories", "ada"), "food").value   # {'likes': 'pizza'}
    store.search(("memories",), filter={"likes": "pizza"})

Each verb is one function that builds its operation (:func:`_verbs` turns it
into the sync and the async method), so the two can never drift apart.
"""

from __future__ import annotations

import abc
import asyncio
import functools
from collections.abc import Callable, Coroutine, Iterable, Mapping
from datetime import datetime
from typing import Any, Concatenate, Literal, NamedTuple, ParamSpec, TypedDict, TypeVar, cast

from wfkit.errors import InvalidNamespaceError

__all__ = [
    "NOT_PROVIDED",
    "BaseStore",
    "GetOp",
    "IndexConfig",
    "InvalidNamespaceError",
    "Item",
    "ListNamespacesOp",
    "MatchCondition",
    "NamespaceMatchType",
    "NamespacePath",
    "NotProvided",
    "Op",
    "PutOp",
    "Result",
    "SearchItem",
    "SearchOp",
    "TTLConfig",
    "validate_op_namespace",
]

P = ParamSpec("P")
R = TypeVar("R")


class NotProvided:
    """The type of :data:`NOT_PROVIDED`: "no value given" where ``None`` means something."""

    _instance: NotProvided | None = None

    def __new__(cls) -> NotProvided:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "NOT_PROVIDED"


NOT_PROVIDED = NotProvided()


# ---------------------------------------------------------------- values
class Item:
    """A stored value with where it lives and when it was written.

    ``value`` is the dict that was put, ``namespace`` and ``key`` its
    address, ``created_at`` the first put of the key, ``updated_at`` the
    last (both UTC ``datetime``; ISO strings are accepted and parsed).
    """

    __slots__ = ("created_at", "key", "namespace", "updated_at", "value")

    def __init__(
        self,
        *,
        value: dict[str, Any],
        key: str,
        namespace: tuple[str, ...],
        created_at: datetime | str,
        updated_at: datetime | str,
    ) -> None:
        self.value = value
        self.key = key
        self.namespace = tuple(namespace)
        self.created_at = _as_datetime(created_at)
        self.updated_at = _as_datetime(updated_at)

    def _fields(self) -> tuple[Any, ...]:
        return (self.namespace, self.key, self.value, self.created_at, self.updated_at)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Item):
            return NotImplemented
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash((self.namespace, self.key))

    def dict(self) -> dict[str, Any]:
        """The item as plain JSON-able data (times as ISO text)."""
        return {
            "namespace": list(self.namespace),
            "key": self.key,
            "value": self.value,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.dict().items())
        return f"{type(self).__name__}({fields})"


class SearchItem(Item):
    """An :class:`Item` found by :meth:`BaseStore.search`; ``score`` is its
    cosine similarity to the query (``None`` without a query, or for an item
    with no vector)."""

    __slots__ = ("score",)

    def __init__(
        self,
        namespace: tuple[str, ...],
        key: str,
        value: dict[str, Any],
        created_at: datetime | str,
        updated_at: datetime | str,
        score: float | None = None,
    ) -> None:
        super().__init__(
            value=value,
            key=key,
            namespace=namespace,
            created_at=created_at,
            updated_at=updated_at,
        )
        self.score = score

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Item):
            return NotImplemented
        return self._fields() == other._fields() and self.score == getattr(other, "score", None)

    __hash__ = Item.__hash__

    def dict(self) -> dict[str, Any]:
        out = super().dict()
        out["score"] = self.score
        return out


def _as_datetime(value: datetime | str) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


# ---------------------------------------------------------------- operations
NamespacePath = tuple[str, ...]
"""A namespace pattern for :meth:`BaseStore.list_namespaces`; the label
``"*"`` matches any one label: ``("users", "*", "notes")``."""

NamespaceMatchType = Literal["prefix", "suffix"]


class GetOp(NamedTuple):
    """Read the item at ``namespace`` / ``key`` (``None`` when there is none)."""

    namespace: tuple[str, ...]
    key: str
    refresh_ttl: bool = True


class SearchOp(NamedTuple):
    """Find items under ``namespace_prefix``: those matching ``filter``
    (``{"field": value}`` or ``{"field": {"$gt": 3}}``; operators ``$eq``,
    ``$ne``, ``$gt``, ``$gte``, ``$lt``, ``$lte``), ranked by similarity to
    ``query`` when the store has an index, ``offset`` skipped, at most
    ``limit`` returned."""

    namespace_prefix: tuple[str, ...]
    filter: dict[str, Any] | None = None
    limit: int = 10
    offset: int = 0
    query: str | None = None
    refresh_ttl: bool = True


class MatchCondition(NamedTuple):
    """A namespace pattern (``"*"`` matches any label) that namespaces must
    start (``"prefix"``) or end (``"suffix"``) with."""

    match_type: NamespaceMatchType
    path: NamespacePath


class ListNamespacesOp(NamedTuple):
    """List the namespaces that hold items, sorted, matching every condition,
    cut to ``max_depth`` labels (duplicates after the cut dropped)."""

    match_conditions: tuple[MatchCondition, ...] | None = None
    max_depth: int | None = None
    limit: int = 100
    offset: int = 0


class PutOp(NamedTuple):
    """Store ``value`` at ``namespace`` / ``key`` (``value=None`` deletes it).

    ``index``: ``None`` embeds the fields of the store's index config,
    ``False`` embeds nothing, a list of paths (``["text", "notes[*].body"]``)
    embeds those. ``ttl``: minutes until the item expires (``None``: never).
    """

    namespace: tuple[str, ...]
    key: str
    value: dict[str, Any] | None
    index: Literal[False] | list[str] | None = None  # type: ignore[assignment]  # tuple.index
    ttl: float | None = None


Op = GetOp | SearchOp | PutOp | ListNamespacesOp
Result = Item | list[Item] | list[SearchItem] | list[tuple[str, ...]] | None


class TTLConfig(TypedDict, total=False):
    """How a store expires items (``ttl=`` of the store's constructor).

    ``default_ttl``: minutes given to items put without ``ttl``;
    ``refresh_on_read``: whether ``get``/``search`` restart an item's clock
    (default ``True``); ``sweep_interval_minutes``: how often a write also
    deletes expired items (they are never returned in between)."""

    refresh_on_read: bool
    default_ttl: float | None
    sweep_interval_minutes: int | None


class IndexConfig(TypedDict, total=False):
    """Semantic search (``index=`` of the store's constructor).

    ``dims``: the length of each vector; ``embed``: a function from a list of
    texts to a list of vectors (sync or async), a LangChain ``Embeddings``
    object, or a ``"provider:model"`` string for LangChain's
    ``init_embeddings``; ``fields``: the paths embedded by default
    (``["$"]``, the whole value, unless given)."""

    dims: int
    embed: Any
    fields: list[str] | None


# ---------------------------------------------------------------- namespaces
_FIX = "labels are non-empty strings without '.', e.g. ('memories', 'user-1')"


def _bad(namespace: Any, why: str) -> InvalidNamespaceError:
    return InvalidNamespaceError(f"namespace {namespace!r}: {why}; {_FIX}")


def check_labels(namespace: Any, what: str = "namespace") -> tuple[str, ...]:
    """``namespace`` as a tuple, or an :class:`InvalidNamespaceError` naming
    it and the label at fault. The empty tuple passes (a search of
    everything); :func:`check_namespace` is the stricter check for writes."""
    if isinstance(namespace, str) or not isinstance(namespace, tuple | list):
        hint = f" (write ({namespace!r},) for one label)" if isinstance(namespace, str) else ""
        raise InvalidNamespaceError(
            f"{what} {namespace!r} is a {type(namespace).__name__}, not a tuple of labels{hint}; "
            f"{_FIX}"
        )
    for label in namespace:
        if not isinstance(label, str):
            raise _bad(
                namespace,
                f"label {label!r} is a {type(label).__name__}; make it a string ({str(label)!r})",
            )
        if not label:
            raise _bad(namespace, "a label is the empty string; drop it or name it")
        if "." in label:
            raise _bad(
                namespace,
                f"label {label!r} contains '.', which joins labels in stored namespaces; "
                f"use another character ({label.replace('.', '_')!r}) or split it into labels",
            )
        if "\x00" in label:
            raise _bad(namespace, f"label {label!r} contains a NUL character; remove it")
    return tuple(namespace)


def check_namespace(namespace: Any) -> tuple[str, ...]:
    """A namespace an item can be put in: :func:`check_labels`, at least one
    label, and not under ``"langgraph"`` (reserved, as in LangGraph)."""
    labels = check_labels(namespace)
    if not labels:
        raise InvalidNamespaceError(
            "namespace () is empty: an item needs at least one label, e.g. ('memories', user_id)"
        )
    if labels[0] == "langgraph":
        raise _bad(namespace, "the first label 'langgraph' is reserved; choose another one")
    return labels


def validate_op_namespace(op: Op) -> None:
    """Check the namespace labels an operation carries (what the verbs check
    before they build it; ops given to ``batch`` directly are checked too)."""
    if isinstance(op, GetOp | PutOp):
        check_labels(op.namespace)
    elif isinstance(op, SearchOp):
        check_labels(op.namespace_prefix, "namespace prefix")
    elif isinstance(op, ListNamespacesOp):
        for condition in op.match_conditions or ():
            check_labels(condition.path, f"{condition.match_type} path")


# ---------------------------------------------------------------- the verbs
def _verbs(
    ask: Callable[Concatenate[Any, P], Op],
    result: Callable[[Result], R],
) -> tuple[Callable[Concatenate[Any, P], R], Callable[Concatenate[Any, P], Coroutine[Any, Any, R]]]:
    """The sync and the async method of one verb, from the one function that
    builds its operation (``ask``): the first runs it through ``batch``, the
    second through ``abatch``. Both carry ``ask``'s signature and text."""

    @functools.wraps(ask)
    def sync(self: BaseStore, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return result(self.batch([ask(self, *args, **kwargs)])[0])

    @functools.wraps(ask)
    async def async_(self: BaseStore, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return result((await self.abatch([ask(self, *args, **kwargs)]))[0])

    name = ask.__name__.lstrip("_")
    sync.__name__ = sync.__qualname__ = name
    async_.__name__ = async_.__qualname__ = "a" + name
    async_.__doc__ = f"Async :meth:`{name}`: the same, awaited.\n\n{ask.__doc__ or ''}"
    return sync, async_


def _get(
    self: BaseStore, namespace: tuple[str, ...], key: str, *, refresh_ttl: bool | None = None
) -> Op:
    """The item at ``namespace`` / ``key``, or ``None``.

    ``refresh_ttl`` restarts the item's expiry clock (default: the store's
    ``ttl={"refresh_on_read": ...}``, else ``True``)."""
    return GetOp(check_labels(namespace), str(key), self._refresh(refresh_ttl))


def _search(
    self: BaseStore,
    namespace_prefix: tuple[str, ...],
    /,
    *,
    query: str | None = None,
    filter: dict[str, Any] | None = None,
    limit: int = 10,
    offset: int = 0,
    refresh_ttl: bool | None = None,
) -> Op:
    """Items under ``namespace_prefix`` (``()``: all), as ``SearchItem`` objects.

    ``filter`` keeps items whose value matches: ``{"kind": "note"}``,
    ``{"score": {"$gte": 3}}``, nested dicts for nested fields; ``query``
    ranks them by similarity (stores with an ``index``), best first, with
    ``score`` set. Without a query, items come in the order their keys were
    first put. ``offset`` items are skipped, at most ``limit`` returned."""
    return SearchOp(
        check_labels(namespace_prefix, "namespace prefix"),
        filter,
        limit,
        offset,
        query,
        self._refresh(refresh_ttl),
    )


def _put(
    self: BaseStore,
    namespace: tuple[str, ...],
    key: str,
    value: Mapping[str, Any],
    index: Literal[False] | list[str] | None = None,
    *,
    ttl: float | NotProvided | None = NOT_PROVIDED,
) -> Op:
    """Store ``value`` (a dict) at ``namespace`` / ``key``, replacing what was there.

    ``index``: which fields to embed for ``search(query=...)`` (``None``: the
    store's ``fields``; ``False``: none; a list of paths such as
    ``["text", "notes[*].body"]``). ``ttl``: minutes until the item expires
    (default: the store's ``default_ttl``; ``None``: never)."""
    labels = check_namespace(namespace)
    if ttl is NOT_PROVIDED:
        ttl = (self.ttl_config or {}).get("default_ttl")
    elif ttl is not None and not self.supports_ttl:
        raise NotImplementedError(
            f"{type(self).__name__} does not expire items; put without ttl, or use "
            f"wfkit.store.InMemoryStore or DuckDBStore"
        )
    return PutOp(labels, str(key), cast(dict[str, Any], value), index, cast(float | None, ttl))


def _delete(self: BaseStore, namespace: tuple[str, ...], key: str) -> Op:
    """Remove the item at ``namespace`` / ``key`` (nothing happens if there is none)."""
    return PutOp(check_labels(namespace), str(key), None)


def _list_namespaces(
    self: BaseStore,
    *,
    prefix: NamespacePath | None = None,
    suffix: NamespacePath | None = None,
    max_depth: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Op:
    """The namespaces holding items, sorted; ``prefix`` / ``suffix`` patterns
    (``"*"`` matches any label) keep those that start / end so, ``max_depth``
    cuts each to its first labels (duplicates dropped)::

        store.list_namespaces(prefix=("users",), max_depth=2)
        # [('users', 'ada'), ('users', 'bob')]
    """
    conditions = []
    if prefix:
        conditions.append(MatchCondition("prefix", check_labels(prefix, "prefix")))
    if suffix:
        conditions.append(MatchCondition("suffix", check_labels(suffix, "suffix")))
    return ListNamespacesOp(tuple(conditions), max_depth, limit, offset)


def _item(result: Result) -> Item | None:
    return cast(Item | None, result)


def _items(result: Result) -> list[SearchItem]:
    return cast(list[SearchItem], result)


def _nothing(result: Result) -> None:
    return None


def _namespaces(result: Result) -> list[tuple[str, ...]]:
    return cast(list[tuple[str, ...]], result)


class BaseStore(abc.ABC):
    """What every long-term store does: run a batch of operations.

    A store implements :meth:`batch` (and may override :meth:`abatch`,
    which otherwise runs ``batch`` on a worker thread); every verb comes
    from those. ``supports_ttl`` says whether ``put(..., ttl=...)`` works;
    ``ttl_config`` holds the store's :class:`TTLConfig`.
    """

    supports_ttl: bool = False
    ttl_config: TTLConfig | None = None

    __slots__ = ("__weakref__",)

    @abc.abstractmethod
    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run ``ops`` and return one result per operation, in order.

        Reads (gets, searches, listings) see the store as it was before the
        batch; its puts are applied after them, the last put of a key winning.
        """

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Async :meth:`batch` (this default runs it on a worker thread)."""
        return await asyncio.to_thread(self.batch, list(ops))

    def _refresh(self, refresh_ttl: bool | None) -> bool:
        if refresh_ttl is not None:
            return bool(refresh_ttl)
        return bool((self.ttl_config or {}).get("refresh_on_read", True))

    get, aget = _verbs(_get, _item)
    search, asearch = _verbs(_search, _items)
    put, aput = _verbs(_put, _nothing)
    delete, adelete = _verbs(_delete, _nothing)
    list_namespaces, alist_namespaces = _verbs(_list_namespaces, _namespaces)
