"""What a store embeds, and the function that embeds it.

- Paths: which text of a value a vector is made from. ``"$"`` is the whole
  value (as JSON), ``"a.b"`` a nested field, ``"items[0]"`` / ``"items[-1]"``
  one element, ``"items[*].text"`` every element (one vector each),
  ``"*"`` every field of a dict, ``"{title,body}"`` several fields. A
  string is embedded as it is, a number or bool as its text, a list or dict
  as JSON with sorted keys; a missing field gives nothing. These are
  LangGraph's path rules, so an index config moves between the two.
- :class:`Embedder`: one interface over what ``index={"embed": ...}`` may
  be (a function of a list of texts, sync or async; a LangChain
  ``Embeddings`` object; a ``"provider:model"`` string), asked for many
  texts at once and checking that every vector has ``dims`` numbers.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final

from wfkit.errors import DependencyMissingError, StoreError

__all__ = [
    "EMBED_BATCH",
    "Embedder",
    "FieldTexts",
    "Index",
    "ensure_embeddings",
    "get_text_at_path",
    "tokenize_path",
]

EMBED_BATCH: Final = 512
"""Texts per call of the embedding function (a large batch of puts is sent
in slices of this size: embedding services cap a request's inputs)."""

Vector = list[float]


# ---------------------------------------------------------------- paths
def tokenize_path(path: str) -> list[str]:
    """``"a.b[0].c"`` → ``["a", "b", "[0]", "c"]``; ``{x,y}`` and ``[...]``
    stay whole tokens."""
    tokens: list[str] = []
    word = ""
    depth = 0
    for char in path:
        if depth:
            tokens[-1] += char
            depth += {"[": 1, "{": 1, "]": -1, "}": -1}.get(char, 0)
            continue
        if char in "[{":
            if word:
                tokens.append(word)
                word = ""
            tokens.append(char)
            depth = 1
        elif char == ".":
            if word:
                tokens.append(word)
            word = ""
        else:
            word += char
    if word:
        tokens.append(word)
    return tokens


def _text(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, bool | int | float):
        return [str(value)]
    if isinstance(value, list | dict):
        return [json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)]
    return []


def _walk(value: Any, tokens: Sequence[str]) -> list[str]:
    if not tokens:
        return _text(value)
    token, rest = tokens[0], tokens[1:]
    if token.startswith("["):
        if not isinstance(value, list):
            return []
        inner = token[1:-1].strip()
        if inner == "*":
            return [t for element in value for t in _walk(element, rest)]
        try:
            index = int(inner)
        except ValueError:
            return []
        if -len(value) <= index < len(value):
            return _walk(value[index], rest)
        return []
    if token.startswith("{"):
        if not isinstance(value, dict):
            return []
        out: list[str] = []
        for name in token[1:-1].split(","):
            out.extend(_walk(value, tokenize_path(name.strip())))
        return out
    if token == "*":
        if isinstance(value, dict):
            return [t for v in value.values() for t in _walk(v, rest)]
        if isinstance(value, list):
            return [t for v in value for t in _walk(v, rest)]
        return []
    if isinstance(value, Mapping) and token in value:
        return _walk(value[token], rest)
    return []


def get_text_at_path(value: Any, path: str | Sequence[str]) -> list[str]:
    """The texts at ``path`` in ``value`` (see the module's text for paths)."""
    if not path or path == "$":
        return [json.dumps(dict(value), sort_keys=True, ensure_ascii=False, default=str)]
    tokens = tokenize_path(path) if isinstance(path, str) else list(path)
    return _walk(value, tokens)


FieldTexts = list[tuple[tuple[str, ...], str, str, str]]
"""``(namespace, key, field, text)`` for each vector a batch of puts needs;
``field`` is the path, with ``.N`` appended when a path gives several texts."""


# ---------------------------------------------------------------- embedding
def _is_async(fn: Any) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004
    )


def ensure_embeddings(embed: Any) -> Any:
    """A LangChain ``Embeddings`` object for ``embed`` (LangGraph's helper):
    ``embed`` itself if it is one, else an :class:`Embedder` (which has the
    same four methods)."""
    if hasattr(embed, "embed_documents"):
        return embed
    return Embedder(embed, dims=None)


class Embedder:
    """``embed`` of an index config behind one interface; ``dims`` (if
    given) is checked on every vector it returns.

    ``embed_documents`` / ``embed_query`` and their ``a*`` twins are
    LangChain's ``Embeddings`` methods; :meth:`documents` and
    :meth:`queries` (and ``adocuments`` / ``aqueries``) embed many texts,
    :data:`EMBED_BATCH` per call of the function.
    """

    def __init__(self, embed: Any, *, dims: int | None) -> None:
        if isinstance(embed, str):
            embed = _init_embeddings(embed)
        if embed is None:
            raise StoreError(
                'index={"dims": N, "embed": ...} needs "embed": a function from a list of texts '
                "to a list of vectors, or a LangChain Embeddings object"
            )
        self.dims = dims
        self.target = embed
        self._object = hasattr(embed, "embed_documents")
        if not self._object and not callable(embed):
            raise StoreError(
                f'index={{"embed": {embed!r}}} is neither a function of a list of texts nor a '
                f"LangChain Embeddings object (with embed_documents)"
            )
        self._async_only = not self._object and _is_async(embed)

    def __repr__(self) -> str:
        return f"Embedder({self.target!r}, dims={self.dims})"

    # LangChain's Embeddings interface ------------------------------------
    def embed_documents(self, texts: list[str]) -> list[Vector]:
        return self.documents(texts)

    def embed_query(self, text: str) -> Vector:
        return self.queries([text])[0]

    async def aembed_documents(self, texts: list[str]) -> list[Vector]:
        return await self.adocuments(texts)

    async def aembed_query(self, text: str) -> Vector:
        return (await self.aqueries([text]))[0]

    # many texts at once ----------------------------------------------------
    def documents(self, texts: Sequence[str]) -> list[Vector]:
        out: list[Vector] = []
        for start in range(0, len(texts), EMBED_BATCH):
            part = list(texts[start : start + EMBED_BATCH])
            out.extend(self._checked(self._sync_call("embed_documents", part), part))
        return out

    def queries(self, texts: Sequence[str]) -> list[Vector]:
        if self._object:  # a query may be embedded differently from a document
            return [self._checked([self.target.embed_query(t)], [t])[0] for t in texts]
        return self.documents(texts)

    async def adocuments(self, texts: Sequence[str]) -> list[Vector]:
        out: list[Vector] = []
        for start in range(0, len(texts), EMBED_BATCH):
            part = list(texts[start : start + EMBED_BATCH])
            out.extend(self._checked(await self._async_call("aembed_documents", part), part))
        return out

    async def aqueries(self, texts: Sequence[str]) -> list[Vector]:
        if self._object:
            found = await asyncio.gather(*(self.target.aembed_query(t) for t in texts))
            return [self._checked([v], [t])[0] for v, t in zip(found, texts, strict=True)]
        return await self.adocuments(texts)

    # ---------------------------------------------------------------------
    def _sync_call(self, method: str, texts: list[str]) -> Any:
        if self._object:
            return getattr(self.target, method)(texts)
        if self._async_only:
            raise StoreError(
                f"the store's embed function {self.target!r} is async, so it can only be used "
                f"by the async verbs (aput, asearch, abatch); call those, or give a sync function"
            )
        return self.target(texts)

    async def _async_call(self, method: str, texts: list[str]) -> Any:
        if self._object:
            return await getattr(self.target, method)(texts)
        if self._async_only:
            call: Callable[[list[str]], Awaitable[Any]] = self.target
            return await call(texts)
        return await asyncio.to_thread(self.target, texts)

    def _checked(self, vectors: Any, texts: list[str]) -> list[Vector]:
        try:
            out = [[float(x) for x in v] for v in vectors]
        except (TypeError, ValueError) as exc:
            raise StoreError(
                f"the store's embed function returned {type(vectors).__name__}, not a list of "
                f"vectors (lists of numbers), for {len(texts)} texts: {exc}"
            ) from exc
        if len(out) != len(texts):
            raise StoreError(
                f"the store's embed function returned {len(out)} vectors for {len(texts)} texts; "
                f"it must return one vector per text, in order"
            )
        if self.dims is not None:
            for vector, text in zip(out, texts, strict=True):
                if len(vector) != self.dims:
                    raise StoreError(
                        f"the store's embed function returned a vector of {len(vector)} numbers "
                        f'for {text[:40]!r}, but the index says "dims": {self.dims}; make them '
                        f"agree"
                    )
        return out


def _init_embeddings(name: str) -> Any:
    try:
        from langchain.embeddings import init_embeddings  # type: ignore[import-not-found]
    except ImportError:
        raise DependencyMissingError(
            f'index={{"embed": {name!r}}} names a model by string, which needs LangChain\'s '
            f"init_embeddings: pip install langchain and the provider's package (e.g. "
            f"langchain-openai), or give a function of a list of texts"
        ) from None
    return init_embeddings(name)


class Index:
    """A store's semantic-search config, checked: ``dims``, the
    :class:`Embedder`, the default ``fields``."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        if not isinstance(config, Mapping):
            raise StoreError(
                f'index= takes a dict such as {{"dims": 384, "embed": fn, "fields": ["text"]}}, '
                f"got {config!r}"
            )
        unknown = set(config) - {"dims", "embed", "fields"}
        if unknown:
            raise StoreError(
                f"index= has unknown key(s) {sorted(unknown)}; the keys are dims, embed, fields"
            )
        dims = config.get("dims")
        if not isinstance(dims, int) or isinstance(dims, bool) or dims < 1:
            raise StoreError(
                f'index={{"dims": {dims!r}}}: give the vectors\' length, a positive int '
                f"(e.g. 1536 for OpenAI's text-embedding-3-small)"
            )
        self.dims = dims
        self.embedder = Embedder(config.get("embed"), dims=dims)
        fields = config.get("fields") or ["$"]
        if isinstance(fields, str) or not all(isinstance(f, str) for f in fields):
            raise StoreError(f'index={{"fields": {fields!r}}}: give a list of paths, e.g. ["text"]')
        self.fields = list(fields)

    def texts(self, puts: Sequence[Any]) -> FieldTexts:
        """What to embed for ``puts`` (the ``PutOp`` objects with a value)."""
        out: FieldTexts = []
        for op in puts:
            if op.value is None or op.index is False:
                continue
            for path in self.fields if op.index is None else op.index:
                texts = get_text_at_path(op.value, path)
                many = len(texts) > 1
                for i, text in enumerate(texts):
                    out.append((op.namespace, op.key, f"{path}.{i}" if many else path, text))
        return out
