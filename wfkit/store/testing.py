"""The long-term store contract as a test suite a store subclasses.

:class:`StoreContract` checks every verb of
:class:`~wfkit.store.base.BaseStore` and its async twin, filters, namespace
listing, bad namespaces, expiry, vector search, threads, and a graph whose
nodes use the store. Both wfkit stores pass it; a third-party store proves
itself the same way, in its own test module::

    from wfkit.store.testing import StoreContract

    class TestRedisStore(StoreContract):
        persistent = True  # items outlive close(): the reopen test runs too

        def make_store(self, path, **options):
            return RedisStore(url_for(path), **options)

``make_store(path, **options)`` returns a new store kept under ``path``, a
directory the test owns; ``options`` are ``index=``, ``ttl=`` and
``clock=`` (a function returning the time in seconds since the epoch, which
the store must use for expiry). ``close_store(store)`` closes one (the
default calls ``close()`` if the store has it). To mark a known gap,
override the test and decorate it with ``pytest.mark.xfail(strict=True)``.

This module imports pytest, so only test code imports it; ``import wfkit``
does not.
"""

from __future__ import annotations

import abc
import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any, ClassVar, TypedDict

import pytest

from wfkit import START, InvalidNamespaceError, StateGraph
from wfkit.errors import InvalidInputError, StoreError
from wfkit.store.base import BaseStore, GetOp, ListNamespacesOp, MatchCondition, PutOp, SearchOp

__all__ = ["Clock", "StoreContract", "letter_embed"]

LETTERS = "aeiou"


def letter_embed(texts: list[str]) -> list[list[float]]:
    """A deterministic embedding for tests: how often each vowel occurs, and 1."""
    return [[float(t.count(c)) for c in LETTERS] + [1.0] for t in texts]


class Clock:
    """A clock for expiry tests: ``clock()`` is the time, ``advance(s)`` moves it."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class _Counting:
    """``letter_embed`` counting its calls and texts."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, texts: list[str]) -> list[list[float]]:
        self.calls.append(len(texts))
        return letter_embed(texts)


def _keys(items: list[Any]) -> list[str]:
    return [i.key for i in items]


class StoreContract(abc.ABC):
    """What every long-term store must do; subclass it and define
    :meth:`make_store` (see the module docstring)."""

    #: True when items outlive the store object (a file, a server).
    persistent: ClassVar[bool] = False

    @abc.abstractmethod
    def make_store(self, path: Path, **options: Any) -> BaseStore:
        """A new store kept under the directory ``path``, with ``options``
        (``index``, ``ttl``, ``clock``)."""

    def close_store(self, store: BaseStore) -> None:
        close = getattr(store, "close", None)
        if close is not None:
            close()

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[BaseStore]:
        store = self.make_store(tmp_path)
        yield store
        self.close_store(store)

    @pytest.fixture
    def clock(self) -> Clock:
        return Clock()

    # ------------------------------------------------------------ put / get
    def test_put_then_get(self, store: BaseStore) -> None:
        assert store.get(("users", "ada"), "prefs") is None
        store.put(("users", "ada"), "prefs", {"theme": "dark", "size": 3})
        item = store.get(("users", "ada"), "prefs")
        assert item is not None
        assert (item.namespace, item.key, item.value) == (
            ("users", "ada"),
            "prefs",
            {"theme": "dark", "size": 3},
        )
        assert item.created_at.tzinfo is not None and item.created_at.utcoffset() == UTC.utcoffset(
            None
        )
        assert item.updated_at >= item.created_at
        assert item.dict()["namespace"] == ["users", "ada"]

    def test_put_replaces_and_keeps_created_at(self, store: BaseStore) -> None:
        store.put(("n",), "k", {"v": 1})
        first = store.get(("n",), "k")
        store.put(("n",), "k", {"w": 2})
        second = store.get(("n",), "k")
        assert first is not None and second is not None
        assert second.value == {"w": 2}
        assert second.created_at == first.created_at
        assert second.updated_at >= first.updated_at

    def test_values_round_trip_as_json(self, store: BaseStore) -> None:
        value = {
            "text": "naïve — ünïcode ✓",
            "nested": {"list": [1, 2.5, None, True, "x"], "empty": {}},
            "n": -7,
            "quote": 'he said "hi"\n',
        }
        store.put(("docs",), "k", value)
        got = store.get(("docs",), "k")
        assert got is not None and got.value == value

    def test_delete(self, store: BaseStore) -> None:
        store.put(("n",), "k", {"v": 1})
        store.delete(("n",), "k")
        assert store.get(("n",), "k") is None
        store.delete(("n",), "k")  # deleting what is not there is no error
        store.delete(("never",), "k")
        assert store.search(("n",)) == []

    def test_keys_are_text(self, store: BaseStore) -> None:
        store.put(("n",), 7, {"v": 1})  # type: ignore[arg-type]
        item = store.get(("n",), "7")
        assert item is not None and item.key == "7"

    def test_a_value_must_be_a_dict(self, store: BaseStore) -> None:
        with pytest.raises(InvalidInputError, match="value is a list"):
            store.put(("n",), "k", [1, 2])  # type: ignore[arg-type]

    # ------------------------------------------------------------ search
    def test_search_order_is_first_put(self, store: BaseStore) -> None:
        for key in ("b", "a", "c"):
            store.put(("n",), key, {"k": key})
        store.put(("n",), "b", {"k": "b2"})  # an update keeps its place
        assert _keys(store.search(("n",))) == ["b", "a", "c"]
        store.delete(("n",), "a")
        store.put(("n",), "a", {"k": "a2"})  # deleted, then put again: at the end
        assert _keys(store.search(("n",))) == ["b", "c", "a"]
        found = store.search(("n",))
        assert [i.value["k"] for i in found] == ["b2", "c", "a2"]
        assert all(i.score is None for i in found)

    def test_search_prefix_limit_offset(self, store: BaseStore) -> None:
        for i in range(12):
            store.put(("docs", f"u{i % 3}"), f"k{i}", {"i": i})
        store.put(("docsx",), "other", {"i": -1})  # a prefix is whole labels
        assert len(store.search(("docs",))) == 10  # the default limit
        assert _keys(store.search(("docs",), limit=100)) == [f"k{i}" for i in range(12)]
        assert _keys(store.search(("docs", "u1"), limit=100)) == ["k1", "k4", "k7", "k10"]
        assert _keys(store.search(("docs",), limit=3, offset=4)) == ["k4", "k5", "k6"]
        assert _keys(store.search(("docs",), limit=3, offset=11)) == ["k11"]
        assert store.search(("docs",), limit=0) == []
        assert len(store.search((), limit=100)) == 13
        assert store.search(("nobody",)) == []

    def test_filter_equality(self, store: BaseStore) -> None:
        rows: dict[str, dict[str, Any]] = {
            "a": {"kind": "note", "n": 1, "ok": True, "tag": None},
            "b": {"kind": "task", "n": 1.0, "ok": False},
            "c": {"kind": "note", "n": 2, "ok": 1},
            "d": {"kind": "Note", "n": "1"},
        }
        for key, value in rows.items():
            store.put(("f",), key, value)

        def keys(filter: dict[str, Any]) -> list[str]:
            return _keys(store.search(("f",), filter=filter))

        assert keys({"kind": "note"}) == ["a", "c"]
        assert keys({"n": 1}) == ["a", "b"]  # 1 == 1.0; the string "1" is not a number
        assert keys({"n": "1"}) == ["d"]
        assert keys({"ok": True}) == ["a"]  # True is not 1
        assert keys({"ok": False}) == ["b"]  # False is not 0
        assert keys({"ok": 1}) == ["c"]
        assert keys({"tag": None}) == ["a", "b", "c", "d"]  # None matches a missing field
        assert keys({"kind": "note", "n": 2}) == ["c"]
        assert keys({"kind": {"$eq": "task"}}) == ["b"]
        assert keys({"kind": {"$ne": "note"}}) == ["b", "d"]
        assert keys({"ok": {"$ne": True}}) == ["b", "c", "d"]  # a missing field is not True
        assert keys({"tag": {"$ne": None}}) == []
        assert keys({"missing": "x"}) == []

    def test_filter_comparisons(self, store: BaseStore) -> None:
        for i, value in enumerate([3, 7.5, -2, "9", True, None, "apple", "pear"]):
            store.put(("c",), f"k{i}", {"v": value})
        store.put(("c",), "none", {"w": 1})

        def keys(filter: dict[str, Any]) -> list[str]:
            return _keys(store.search(("c",), filter=filter, limit=50))

        assert keys({"v": {"$gt": 3}}) == ["k1"]  # numbers only: not "9", not True
        assert keys({"v": {"$gte": 3}}) == ["k0", "k1"]
        assert keys({"v": {"$lt": 3}}) == ["k2"]
        assert keys({"v": {"$lte": 3, "$gt": -5}}) == ["k0", "k2"]
        assert keys({"v": {"$gt": "b"}}) == ["k7"]  # strings only, by code point
        assert keys({"v": {"$lt": "b"}}) == ["k3", "k6"]  # "9" < "apple" < "b"

    def test_filter_nested_and_lists(self, store: BaseStore) -> None:
        store.put(("x",), "a", {"meta": {"lang": "en", "level": 2}, "tags": ["x", "y"]})
        store.put(("x",), "b", {"meta": {"lang": "fr"}, "tags": ["x"]})
        store.put(("x",), "c", {"meta": "en", "tags": "x"})
        store.put(("x",), "d", {"meta": {"a/b": {"~c": 1}}, "tags": [{"n": 1}, {"n": 2}]})

        def keys(filter: dict[str, Any]) -> list[str]:
            return _keys(store.search(("x",), filter=filter))

        assert keys({"meta": {"lang": "en"}}) == ["a"]  # extra fields allowed
        assert keys({"meta": {"level": {"$gte": 2}}}) == ["a"]
        assert keys({"meta": {}}) == ["a", "b", "d"]  # any dict
        assert keys({"tags": ["x"]}) == ["b"]  # a list: that length, element by element
        assert keys({"tags": ["x", "y"]}) == ["a"]
        assert keys({"tags": [{"n": 1}, {"n": {"$gt": 1}}]}) == ["d"]
        assert keys({"meta": {"a/b": {"~c": 1}}}) == ["d"]  # keys with / and ~
        assert keys({"meta.lang": "en"}) == []  # a key is a key, not a path

    def test_bad_filters_are_refused(self, store: BaseStore) -> None:
        with pytest.raises(InvalidInputError, match=r"unknown operator '\$in'.*\$eq, \$ne"):
            store.search(("x",), filter={"v": {"$in": [1, 2]}})
        with pytest.raises(InvalidInputError, match="mixes operators"):
            store.search(("x",), filter={"v": {"$gt": 1, "w": 2}})
        with pytest.raises(InvalidInputError, match="compares numbers or strings"):
            store.search(("x",), filter={"v": {"$gt": None}})
        with pytest.raises(InvalidInputError, match="is a list; give a dict"):
            store.search(("x",), filter=[1])  # type: ignore[arg-type]
        with pytest.raises(InvalidInputError, match="cannot be compared"):
            store.search(("x",), filter={"v": object()})
        with pytest.raises(InvalidInputError, match="limit=-1"):
            store.search(("x",), limit=-1)

    # ------------------------------------------------------------ namespaces
    def test_list_namespaces(self, store: BaseStore) -> None:
        for ns in [
            ("a", "b", "c"),
            ("a", "b", "d", "e"),
            ("a", "b", "d", "i"),
            ("a", "b", "f"),
            ("a", "c", "f"),
            ("z",),
        ]:
            store.put(ns, "k", {"v": 1})
        assert store.list_namespaces() == [
            ("a", "b", "c"),
            ("a", "b", "d", "e"),
            ("a", "b", "d", "i"),
            ("a", "b", "f"),
            ("a", "c", "f"),
            ("z",),
        ]
        assert store.list_namespaces(prefix=("a", "b"), max_depth=3) == [
            ("a", "b", "c"),
            ("a", "b", "d"),
            ("a", "b", "f"),
        ]
        assert store.list_namespaces(suffix=("f",)) == [("a", "b", "f"), ("a", "c", "f")]
        assert store.list_namespaces(prefix=("a", "*", "f")) == [("a", "b", "f"), ("a", "c", "f")]
        assert store.list_namespaces(prefix=("a",), suffix=("*", "e")) == [("a", "b", "d", "e")]
        assert store.list_namespaces(max_depth=1) == [("a",), ("z",)]
        assert store.list_namespaces(limit=2, offset=1) == [
            ("a", "b", "d", "e"),
            ("a", "b", "d", "i"),
        ]
        store.delete(("z",), "k")  # a namespace with no items left is not listed
        assert ("z",) not in store.list_namespaces()

    @pytest.mark.parametrize(
        ("namespace", "words"),
        [
            ((), "empty"),
            (("users", "a.b"), "contains '.'"),
            (("users", 42), "label 42 is a int"),
            (("users", ""), "empty string"),
            ("users", "is a str, not a tuple"),
            (("langgraph", "x"), "reserved"),
        ],
    )
    def test_bad_namespaces_are_refused(self, store: BaseStore, namespace: Any, words: str) -> None:
        with pytest.raises(InvalidNamespaceError) as caught:
            store.put(namespace, "k", {"v": 1})
        message = str(caught.value)
        assert words in message
        assert repr(namespace) in message or repr(tuple(namespace)) in message
        assert "e.g." in message or "drop it" in message or "choose" in message

    def test_bad_labels_are_refused_by_every_verb(self, store: BaseStore) -> None:
        bad = ("users", "a.b")
        for call in (
            lambda: store.get(bad, "k"),
            lambda: store.search(bad),
            lambda: store.delete(bad, "k"),
            lambda: store.list_namespaces(prefix=bad),
            lambda: store.list_namespaces(suffix=("x", 1)),  # type: ignore[arg-type]
            lambda: store.batch([GetOp(bad, "k")]),
            lambda: store.batch([PutOp(("ok",), "k", {"v": 1}), PutOp(bad, "k", {"v": 1})]),
        ):
            with pytest.raises(InvalidNamespaceError, match=r"'a\.b'|label 1"):
                call()
        assert store.search(()) == []  # the batch refused as a whole: nothing was put

    # ------------------------------------------------------------ batch
    def test_batch_reads_before_writes_last_put_wins(self, store: BaseStore) -> None:
        store.put(("b",), "old", {"v": 0})
        results = store.batch(
            [
                PutOp(("b",), "k", {"v": 1}),
                GetOp(("b",), "k"),
                PutOp(("b",), "k", {"v": 2}),
                SearchOp(("b",)),
                ListNamespacesOp(match_conditions=(MatchCondition("prefix", ("b",)),)),
                PutOp(("b",), "old", None),
            ]
        )
        assert results[0] is None and results[2] is None and results[5] is None
        assert results[1] is None  # reads see the store as it was before the batch
        assert _keys(results[3]) == ["old"]  # type: ignore[arg-type]
        assert results[4] == [("b",)]
        item = store.get(("b",), "k")
        assert item is not None and item.value == {"v": 2}
        assert store.get(("b",), "old") is None

    def test_batch_refuses_what_is_not_an_op(self, store: BaseStore) -> None:
        with pytest.raises(InvalidInputError, match="not a store operation"):
            store.batch([("n", "k")])  # type: ignore[list-item]

    def test_async_twins(self, store: BaseStore) -> None:
        async def main() -> list[Any]:
            await store.aput(("a",), "k", {"v": 1})
            await store.aput(("a", "b"), "j", {"v": 2})
            got = await store.aget(("a",), "k")
            found = await store.asearch(("a",), filter={"v": 2})
            spaces = await store.alist_namespaces(prefix=("a",))
            await store.adelete(("a",), "k")
            gone = await store.aget(("a",), "k")
            batch = await store.abatch([GetOp(("a", "b"), "j")])
            return [got, found, spaces, gone, batch]

        got, found, spaces, gone, batch = asyncio.run(main())
        assert got.value == {"v": 1}
        assert _keys(found) == ["j"]
        assert spaces == [("a",), ("a", "b")]
        assert gone is None
        assert batch[0].value == {"v": 2}
        assert store.get.__name__ == "get" and store.aget.__name__ == "aget"

    # ------------------------------------------------------------ expiry
    def test_ttl_expires_items(self, tmp_path: Path, clock: Clock) -> None:
        # no sweep after the first write: expired items stay stored, and must not show
        store = self.make_store(tmp_path, clock=clock, ttl={"sweep_interval_minutes": 10_000})
        try:
            assert store.supports_ttl
            store.put(("t",), "short", {"v": 1}, ttl=1)  # minutes
            store.put(("t",), "long", {"v": 2}, ttl=10)
            store.put(("t2",), "forever", {"v": 3})
            clock.advance(59)
            assert store.get(("t",), "short", refresh_ttl=False) is not None
            clock.advance(2)
            assert store.get(("t",), "short") is None
            assert _keys(store.search(("t",))) == ["long"]
            clock.advance(600)
            assert store.search(("t",)) == []
            assert store.list_namespaces() == [("t2",)]
            first = store.get(("t2",), "forever")
            store.put(("t",), "fresh", {"v": 5})
            store.put(("t",), "short", {"v": 4})  # an expired key put again is a new item
            item = store.get(("t",), "short")
            assert item is not None and item.value == {"v": 4}
            assert first is not None and item.created_at > first.created_at
            assert _keys(store.search(("t",))) == ["fresh", "short"]  # in a new place
        finally:
            self.close_store(store)

    def test_ttl_refreshes_on_read(self, tmp_path: Path, clock: Clock) -> None:
        store = self.make_store(tmp_path, clock=clock)
        try:
            store.put(("t",), "a", {"v": 1}, ttl=1)
            store.put(("t",), "b", {"v": 2}, ttl=1)
            for _ in range(3):
                clock.advance(40)
                assert store.get(("t",), "a") is not None  # each read restarts its clock
            assert store.get(("t",), "b", refresh_ttl=False) is None
            clock.advance(40)
            assert _keys(store.search(("t",))) == ["a"]  # a search restarts it too
            clock.advance(40)
            assert _keys(store.search(("t",), refresh_ttl=False)) == ["a"]
            clock.advance(40)
            assert store.search(("t",)) == []
        finally:
            self.close_store(store)

    def test_ttl_config(self, tmp_path: Path, clock: Clock) -> None:
        store = self.make_store(
            tmp_path, clock=clock, ttl={"default_ttl": 2, "refresh_on_read": False}
        )
        try:
            store.put(("t",), "a", {"v": 1})
            store.put(("t",), "b", {"v": 2}, ttl=None)  # None: never expires
            clock.advance(90)
            assert store.get(("t",), "a") is not None  # reads do not refresh here
            clock.advance(40)
            assert store.get(("t",), "a") is None
            assert store.get(("t",), "b") is not None
            sweep = getattr(store, "sweep_ttl")  # noqa: B009 - not a BaseStore verb
            assert sweep() == 1
            assert sweep() == 0
        finally:
            self.close_store(store)
        with pytest.raises((StoreError, InvalidInputError), match="unknown key"):
            self.make_store(tmp_path / "bad", ttl={"default_tl": 2})

    def test_bad_ttl_is_refused(self, store: BaseStore) -> None:
        with pytest.raises(InvalidInputError, match="give minutes > 0"):
            store.put(("t",), "k", {"v": 1}, ttl=-1)

    # ------------------------------------------------------------ vectors
    def _indexed(self, path: Path, embed: Any = letter_embed, **index: Any) -> BaseStore:
        return self.make_store(path, index={"dims": len(LETTERS) + 1, "embed": embed, **index})

    def test_vector_search_ranks_by_similarity(self, tmp_path: Path) -> None:
        store = self._indexed(tmp_path, fields=["text"])
        try:
            store.put(("d",), "a", {"text": "aaaa"})
            store.put(("d",), "e", {"text": "eeee", "kind": "x"})
            store.put(("d",), "ae", {"text": "aaee", "kind": "x"})
            store.put(("d",), "plain", {"text": "aaaa"}, index=False)
            store.put(("d",), "notext", {"other": "aaaa"})  # no field to embed
            found = store.search(("d",), query="aaa", limit=10)
            assert _keys(found) == ["a", "ae", "e", "plain", "notext"]
            scores = [i.score for i in found]
            assert scores[3:] == [None, None]
            top, second, third = (float(s or 0) for s in scores[:3])
            assert top > second > third > 0
            assert abs(top - (3 * 4 + 1) / ((9 + 1) ** 0.5 * (16 + 1) ** 0.5)) < 1e-5
            assert _keys(store.search(("d",), query="eee", filter={"kind": "x"})) == ["e", "ae"]
            assert _keys(store.search(("d",), query="aaa", limit=2, offset=1)) == ["ae", "e"]
            assert _keys(store.search(("d",), query="aaa", limit=2, offset=3)) == [
                "plain",
                "notext",
            ]
            store.put(("d",), "a", {"text": "eee"})  # new text, new vector
            assert _keys(store.search(("d",), query="eee", limit=2)) == ["a", "e"]
            store.delete(("d",), "e")
            assert _keys(store.search(("d",), query="eee", limit=2)) == ["a", "ae"]
        finally:
            self.close_store(store)

    def test_vector_paths_and_max_of_an_items_vectors(self, tmp_path: Path) -> None:
        store = self._indexed(tmp_path)  # default fields: the whole value
        try:
            store.put(
                ("d",), "parts", {"parts": [{"t": "ooooo"}, {"t": "uuuuu"}]}, index=["parts[*].t"]
            )
            store.put(("d",), "title", {"title": "iiii", "body": "uuu"}, index=["title"])
            store.put(("d",), "whole", {"x": "ooo"})
            best = store.search(("d",), query="uuuu", limit=3)
            assert best[0].key == "parts"  # its second vector is the closest one
            assert _keys(store.search(("d",), query="iiii", limit=1)) == ["title"]
            assert _keys(store.search(("d",), query="oo o", limit=3))[0] in ("parts", "whole")
        finally:
            self.close_store(store)

    def test_vectors_are_made_in_batches(self, tmp_path: Path) -> None:
        embed = _Counting()
        store = self._indexed(tmp_path, embed=embed, fields=["text"])
        try:
            store.batch([PutOp(("d",), f"k{i}", {"text": "a" * (i % 7) + "e"}) for i in range(100)])
            assert embed.calls == [7]  # one call, each distinct text once
            store.search(("d",), query="aaa")
            assert embed.calls == [7, 1]
            store.search(("d",), filter={"text": "e"})  # no query: nothing to embed
            store.put(("d",), "x", {"other": 1})  # nothing to embed either
            assert embed.calls == [7, 1]
        finally:
            self.close_store(store)

    def test_async_embed_function(self, tmp_path: Path) -> None:
        async def embed(texts: list[str]) -> list[list[float]]:
            await asyncio.sleep(0)
            return letter_embed(texts)

        store = self._indexed(tmp_path, embed=embed, fields=["text"])
        try:

            async def main() -> list[str]:
                await store.aput(("d",), "a", {"text": "aaa"})
                await store.aput(("d",), "o", {"text": "ooo"})
                return _keys(await store.asearch(("d",), query="oo"))

            assert asyncio.run(main()) == ["o", "a"]
            with pytest.raises(StoreError, match=r"is async.*aput, asearch"):
                store.search(("d",), query="aa")
        finally:
            self.close_store(store)

    def test_embeddings_of_the_wrong_size_are_refused(self, tmp_path: Path) -> None:
        store = self._indexed(tmp_path, embed=lambda texts: [[1.0, 2.0] for _ in texts])
        try:
            with pytest.raises(StoreError, match=r'vector of 2 numbers.*"dims": 6'):
                store.put(("d",), "k", {"text": "a"})
            assert store.get(("d",), "k") is None
        finally:
            self.close_store(store)
        with pytest.raises(StoreError, match="dims"):
            self.make_store(tmp_path / "bad", index={"dims": 0, "embed": letter_embed})

    def test_langchain_embeddings_object(self, tmp_path: Path) -> None:
        fake = pytest.importorskip("langchain_core.embeddings")

        class Vowels(fake.Embeddings):  # type: ignore[misc, name-defined]
            def embed_documents(self, texts: list[str]) -> list[list[float]]:
                return letter_embed(texts)

            def embed_query(self, text: str) -> list[float]:
                return letter_embed([text])[0]

        store = self._indexed(tmp_path, embed=Vowels(), fields=["text"])
        try:
            store.put(("d",), "a", {"text": "aaa"})
            store.put(("d",), "u", {"text": "uuu"})
            assert _keys(store.search(("d",), query="uu")) == ["u", "a"]
        finally:
            self.close_store(store)

    # ------------------------------------------------------------ threads
    def test_threads_share_a_store(self, store: BaseStore) -> None:
        errors: list[BaseException] = []
        barrier = threading.Barrier(6)

        def writer(t: int) -> None:
            try:
                barrier.wait()
                for i in range(60):
                    store.put(("w", f"t{t}"), f"k{i}", {"i": i, "t": t})
                    if i % 10 == 0:
                        store.put(("w", "shared"), "same", {"t": t})
            except BaseException as exc:
                errors.append(exc)

        def reader() -> None:
            try:
                barrier.wait()
                for _ in range(40):
                    for item in store.search(("w",), filter={"i": {"$gte": 0}}, limit=50):
                        assert item.value["i"] >= 0
                    store.list_namespaces(prefix=("w",))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(t,)) for t in range(4)]
        threads += [threading.Thread(target=reader) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        for t in range(4):
            found = store.search(("w", f"t{t}"), limit=100)
            assert [i.value["i"] for i in found] == list(range(60))
        shared = store.get(("w", "shared"), "same")
        assert shared is not None and shared.value["t"] in range(4)
        assert len(store.list_namespaces(prefix=("w",))) == 5

    # ------------------------------------------------------------ reopen
    def test_items_outlive_the_store(self, tmp_path: Path) -> None:
        if not self.persistent:
            pytest.skip("the store keeps its items in memory")
        store = self.make_store(tmp_path)
        store.put(("p",), "k", {"v": [1, 2]}, ttl=30)
        store.put(("p", "q"), "j", {"v": 3})
        self.close_store(store)
        store = self.make_store(tmp_path)
        try:
            item = store.get(("p",), "k")
            assert item is not None and item.value == {"v": [1, 2]}
            assert store.list_namespaces() == [("p",), ("p", "q")]
        finally:
            self.close_store(store)

    # ------------------------------------------------------------ in a graph
    def test_nodes_reach_the_store(self, store: BaseStore) -> None:
        from wfkit.config import get_store
        from wfkit.runtime import Runtime

        class State(TypedDict, total=False):
            user: str
            seen: list[str]

        def remember(state: State, store: BaseStore) -> dict[str, Any]:
            store.put(("memories", state["user"]), "a", {"text": "from a parameter"})
            return {}

        def also(state: State, runtime: Runtime[Any]) -> dict[str, Any]:
            runtime.store.put(("memories", state["user"]), "b", {"text": "from the runtime"})
            return {}

        def recall(state: State) -> dict[str, Any]:
            found = get_store().search(("memories", state["user"]))
            return {"seen": [i.value["text"] for i in found]}

        inner = (
            StateGraph(State)
            .add_node(remember)
            .add_node(also)
            .add_node(recall)
            .add_edge(START, "remember")
            .add_edge("remember", "also")
            .add_edge("also", "recall")
            .compile()
        )
        outer = StateGraph(State).add_node("inner", inner).add_edge(START, "inner")  # type: ignore[arg-type]
        app = outer.compile(store=store)  # the subgraph uses its parent's store
        out = app.invoke({"user": "ada"})
        assert out["seen"] == ["from a parameter", "from the runtime"]
        assert _keys(store.search(("memories", "ada"))) == ["a", "b"]
