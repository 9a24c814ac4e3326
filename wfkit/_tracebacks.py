"""Tracebacks of a node's error without wfkit's own frames.

A node's exception passes through the engine on its way out (the driver,
the superstep loop, the task runner): about nine frames that say nothing
about the user's bug. :func:`user_traceback` returns the same traceback
without them; the note the engine adds ("wfkit: raised in node 'x',
superstep N, attempt M") stays on the exception and says where it came
from. Only exceptions that carry that note are shortened: an error wfkit
raises itself keeps every frame.

The original ``exc.__traceback__`` is never changed: a new chain of
traceback objects is built over the same frames.
"""

from __future__ import annotations

import traceback
from pathlib import Path
from types import TracebackType

__all__ = ["from_node", "format_user_exception", "user_traceback"]

_PACKAGE = str(Path(__file__).resolve().parent)
_NOTE = "wfkit: raised in "


def from_node(exc: BaseException) -> bool:
    """Whether ``exc`` is a node's (or a router's) own exception, noted by the engine."""
    return any(isinstance(n, str) and n.startswith(_NOTE) for n in getattr(exc, "__notes__", ()))


def _ours(tb: TracebackType) -> bool:
    name = tb.tb_frame.f_code.co_filename
    return name.startswith(_PACKAGE)


def user_traceback(exc: BaseException, tb: TracebackType | None = None) -> TracebackType | None:
    """``tb`` (default: ``exc.__traceback__``) without wfkit's frames, when
    ``exc`` came from a node; else ``tb`` as it is. The last frame (where the
    error was raised) always stays."""
    tb = exc.__traceback__ if tb is None else tb
    if tb is None or not from_node(exc):
        return tb
    frames: list[TracebackType] = []
    while tb is not None:
        frames.append(tb)
        tb = tb.tb_next
    kept = [f for i, f in enumerate(frames) if i == len(frames) - 1 or not _ours(f)]
    chain: TracebackType | None = None
    for f in reversed(kept):
        chain = TracebackType(chain, f.tb_frame, f.tb_lasti, f.tb_lineno)
    return chain


def format_user_exception(exc: BaseException) -> str:
    """``traceback.format_exception`` of ``exc`` with :func:`user_traceback`."""
    return "".join(traceback.format_exception(type(exc), exc, user_traceback(exc)))
