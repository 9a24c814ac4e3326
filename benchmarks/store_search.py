"""``store_search``: the long-term store (issue 13).

10,000 items in one namespace (``("docs",)``), each with a category (one of
20), a score (0-99), a language and a 128-number embedding, then

- 100 filtered searches, ``limit=10``: half common
  (``{"category": c, "score": {"$gte": 50}}``, about 250 matches) and half
  rare (``{"category": c, "score": s, "lang": l}``, a few matches, so the
  whole store is scanned);
- 100 vector searches (``query=...``, ``limit=10``, no filter).

The headline is the 100 filtered searches; ``vector_s`` the 100 vector
searches; ``put_s`` loading the 10,000 items (one ``batch`` of puts).
Implementations, interleaved in one process:

- ``wfkit``: ``wfkit.store.InMemoryStore``;
- ``wfkit_duckdb``: ``wfkit.store.DuckDBStore`` on a file;
- ``langgraph``: ``langgraph.store.memory.InMemoryStore``;
- ``floor``: the same searches written by hand — a loop over a list of
  dicts with the filter inline, and NumPy brute force (one matrix product,
  ``argpartition``) for the vectors.

The embedding function looks precomputed vectors up (it costs the same for
every implementation). Every implementation's results are checked against
the floor's: the same keys for each filtered search, and at least 9 of the
10 nearest for each vector search.
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.measure import Measurement, Session, SteppedImpl, check

ITEMS = 10_000
SEARCHES = 100
DIMS = 128
LIMIT = 10
CATEGORIES = 20
LANGS = ("en", "fr", "de", "es")


def _data() -> tuple[list[dict[str, Any]], dict[str, list[float]], list[dict[str, Any]], list[str]]:
    rng = random.Random(13)
    values = [
        {
            "text": f"doc {i}",
            "category": f"c{rng.randrange(CATEGORIES)}",
            "score": rng.randrange(100),
            "lang": rng.choice(LANGS),
        }
        for i in range(ITEMS)
    ]
    queries = [f"query {q}" for q in range(SEARCHES)]
    vectors = {t: [rng.gauss(0, 1) for _ in range(DIMS)] for t in [v["text"] for v in values]}
    vectors.update({q: [rng.gauss(0, 1) for _ in range(DIMS)] for q in queries})
    filters: list[dict[str, Any]] = []
    for s in range(SEARCHES):
        if s % 2 == 0:
            filters.append({"category": f"c{s % CATEGORIES}", "score": {"$gte": 50}})
        else:
            filters.append(
                {"category": f"c{s % CATEGORIES}", "score": s % 100, "lang": LANGS[s % 4]}
            )
    return values, vectors, filters, queries


def _floor_filter(values: list[dict[str, Any]], f: dict[str, Any]) -> list[str]:
    """What each filtered search must return: the first LIMIT matches."""
    out = []
    category, score = f["category"], f["score"]
    lang = f.get("lang")
    for i, v in enumerate(values):
        if v["category"] != category:
            continue
        if isinstance(score, dict):
            if v["score"] < score["$gte"]:
                continue
        elif v["score"] != score or v["lang"] != lang:
            continue
        out.append(f"k{i}")
        if len(out) == LIMIT:
            break
    return out


def _verify(name: str, filtered: list[list[str]], nearest: list[list[str]], want: Any) -> None:
    want_filtered, want_nearest = want
    for i, (got, expected) in enumerate(zip(filtered, want_filtered, strict=True)):
        check(got == expected, f"{name}: filtered search {i} gave {got}, expected {expected}")
    for i, (got, expected) in enumerate(zip(nearest, want_nearest, strict=True)):
        overlap = len(set(got) & set(expected))
        check(
            len(got) == LIMIT and overlap >= LIMIT - 1,
            f"{name}: vector search {i} found {overlap} of the {LIMIT} nearest ({got} vs {expected})",
        )


def _expected(values: Any, vectors: Any, filters: Any, queries: Any) -> Any:
    import numpy as np

    matrix = np.asarray([vectors[v["text"]] for v in values], dtype=np.float64)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    nearest = []
    for q in queries:
        scores = matrix @ (np.asarray(vectors[q]) / np.linalg.norm(vectors[q]))
        nearest.append([f"k{i}" for i in np.argsort(-scores)[:LIMIT]])
    return [_floor_filter(values, f) for f in filters], nearest


def _store_impl(kind: str) -> SteppedImpl:
    def prepare() -> Session:
        values, vectors, filters, queries = _data()
        want = _expected(values, vectors, filters, queries)

        def embed(texts: Any) -> list[list[float]]:
            return [vectors[t] for t in texts]

        index = {"dims": DIMS, "embed": embed, "fields": ["text"]}
        tmp = tempfile.mkdtemp(prefix="wfkit-bench-store-")
        if kind == "langgraph":
            from langgraph.store.base import PutOp
            from langgraph.store.memory import InMemoryStore as LGStore

            store: Any = LGStore(index=index)  # type: ignore[arg-type]
        else:
            from wfkit.store import PutOp  # type: ignore[assignment]

            if kind == "wfkit":
                from wfkit.store import InMemoryStore

                store = InMemoryStore(index=index)  # type: ignore[arg-type]
            else:
                from wfkit.store.duckdb import DuckDBStore

                store = DuckDBStore(Path(tmp, "store.duckdb"), index=index)  # type: ignore[arg-type]
        t0 = time.perf_counter()
        store.batch([PutOp(("docs",), f"k{i}", v) for i, v in enumerate(values)])
        put_s = time.perf_counter() - t0
        for f in filters[:4]:  # warm up
            store.search(("docs",), filter=f, limit=LIMIT)
        store.search(("docs",), query=queries[0], limit=LIMIT)
        vector_times: list[float] = []

        def once() -> float:
            t0 = time.perf_counter()
            filtered = [
                [i.key for i in store.search(("docs",), filter=f, limit=LIMIT)] for f in filters
            ]
            t1 = time.perf_counter()
            nearest = [
                [i.key for i in store.search(("docs",), query=q, limit=LIMIT)] for q in queries
            ]
            vector_times.append(time.perf_counter() - t1)
            _verify(kind, filtered, nearest, want)
            return t1 - t0

        def finish(best: float, times: list[float], rss: float) -> Measurement:
            close = getattr(store, "close", None)
            if close is not None:
                close()
            extra = {
                "times": times,
                "vector_times": vector_times,
                "vector_s": min(vector_times),
                "put_s": put_s,
                "filter_ms": best / SEARCHES * 1e3,
                "vector_ms": min(vector_times) / SEARCHES * 1e3,
            }
            return Measurement(best, extra, rss_mb=rss)

        return Session(once, finish)

    return SteppedImpl(prepare)


def _floor() -> SteppedImpl:
    def prepare() -> Session:
        import numpy as np

        values, vectors, filters, queries = _data()
        want = _expected(values, vectors, filters, queries)
        t0 = time.perf_counter()
        matrix = np.asarray([vectors[v["text"]] for v in values], dtype=np.float32)
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
        put_s = time.perf_counter() - t0
        vector_times: list[float] = []

        def nearest(q: str) -> list[str]:
            query = np.asarray(vectors[q], dtype=np.float32)
            scores = matrix @ (query / np.linalg.norm(query))
            top = np.argpartition(-scores, LIMIT)[:LIMIT]
            return [f"k{i}" for i in top[np.argsort(-scores[top])]]

        def once() -> float:
            t0 = time.perf_counter()
            filtered = [_floor_filter(values, f) for f in filters]
            t1 = time.perf_counter()
            found = [nearest(q) for q in queries]
            vector_times.append(time.perf_counter() - t1)
            _verify("floor", filtered, found, want)
            return t1 - t0

        def finish(best: float, times: list[float], rss: float) -> Measurement:
            extra = {
                "times": times,
                "vector_times": vector_times,
                "vector_s": min(vector_times),
                "put_s": put_s,
                "filter_ms": best / SEARCHES * 1e3,
                "vector_ms": min(vector_times) / SEARCHES * 1e3,
            }
            return Measurement(best, extra, rss_mb=rss)

        return Session(once, finish)

    return SteppedImpl(prepare)


IMPLS = {
    "wfkit": _store_impl("wfkit"),
    "langgraph": _store_impl("langgraph"),
    "floor": _floor(),
    "wfkit_duckdb": _store_impl("duckdb"),
}


def detail(extra: dict[str, Any]) -> str:
    if "filter_ms" not in extra:
        return ""
    return (
        f"filtered {extra['filter_ms']:.3f} ms/search, vector {extra['vector_ms']:.3f} "
        f"ms/search, load {extra['put_s']:.2f} s"
    )
