"""The constants LangGraph users import from ``langgraph.constants``:
``START``, ``END`` and the tags that mark a chat model or node."""

from __future__ import annotations

from typing import Final

from wfkit.types import END, START

__all__ = ["END", "START", "TAG_HIDDEN", "TAG_NOSTREAM"]

TAG_NOSTREAM: Final = "nostream"
"""A chat model tagged with this (``model.with_config(tags=[TAG_NOSTREAM])``)
is left out of ``stream_mode="messages"``."""

TAG_HIDDEN: Final = "langsmith:hidden"
"""LangGraph's tag for parts hidden from tracing; accepted, no effect in wfkit."""
