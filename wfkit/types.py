"""Values users put into graphs and get back: ``START``/``END``, ``Send``,
``Command``, ``RetryPolicy``, ``Interrupt`` and the ``interrupt()``
function; the statuses of tasks and runs; the durability modes.

They carry LangGraph's names and meanings so ported code keeps working.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import InitVar, dataclass, field
from enum import IntEnum
from typing import Any, ClassVar, Final, Generic, Literal, TypedDict, TypeVar

from wfkit.errors import GraphInterrupt, GraphValidationError, InvalidInputError

__all__ = [
    "BatchOptions",
    "DURABILITY",
    "END",
    "CachePolicy",
    "START",
    "Command",
    "Durability",
    "Interrupt",
    "RetryPolicy",
    "RunOptions",
    "RunStatus",
    "Send",
    "StreamMode",
    "StreamWriter",
    "TaskStatus",
    "Writes",
    "adopt_tool_output",
    "check_durability",
    "default_retry_on",
    "interrupt",
]

START: Final = "__start__"
"""The virtual node a run begins at: ``add_edge(START, "first")``."""

END: Final = "__end__"
"""The virtual node a run finishes at: ``add_edge("last", END)``."""

N = TypeVar("N")

Durability = Literal["sync", "async", "exit"]
"""When a run's checkpoints are durable: before each step returns (``sync``),
shortly after (``async``, the default), or when the run ends (``exit``)."""
DURABILITY: Final[tuple[str, ...]] = ("sync", "async", "exit")

StreamMode = Literal["values", "updates", "custom", "messages", "checkpoints", "tasks", "debug"]
"""What ``stream(..., stream_mode=...)`` yields (see ``wfkit.engine.events``)."""

StreamWriter = Callable[[Any], None]
"""A node's ``writer`` parameter: writes one ``"custom"`` stream chunk."""

RunStatus = Literal["running", "done", "interrupted"]
"""Where a run is: still going, finished, or paused at an interrupt."""


class RunOptions(TypedDict, total=False):
    """The keywords every run verb takes (``invoke``, ``stream``, ``iter`` and
    their async twins), each also settable in LangGraph's config dict."""

    thread: str
    """The thread id: ``config={"configurable": {"thread_id": ...}}``."""
    recursion_limit: int
    """Supersteps a run may take before ``GraphRecursionError``."""
    max_concurrency: int
    """Tasks of one superstep run at the same time, at most."""
    durability: Durability
    """``sync``, ``async`` or ``exit`` (see ``docs/checkpoints.md``)."""
    interrupt_before: Sequence[str] | str
    """Pause before these nodes in this run (in place of ``compile()``'s); ``"*"``: all."""
    interrupt_after: Sequence[str] | str
    """Pause after these nodes in this run (in place of ``compile()``'s); ``"*"``: all."""
    executor: Any
    """Where node calls run: a ``NodeExecutor`` such as ``wfkit.distributed.DaskExecutor``,
    or ``"local"`` to run here although the workflow was compiled with one."""
    context: Any
    """The run's ``Runtime.context`` (a dict becomes the graph's ``context_schema``)."""


class BatchOptions(RunOptions, total=False):
    """The keywords of ``batch`` / ``abatch``: every run verb's, and the
    batch's own. ``max_concurrency`` caps the runs at once (not one run's
    tasks), as in LangGraph's ``batch``."""

    threads: Sequence[str]
    """Each run's thread id, one per input (with a checkpointer; generated if left out)."""
    progress: bool
    """Show a progress bar (tqdm: a widget in a notebook, text in a terminal); on by default."""
    return_exceptions: bool
    """A failed run's exception becomes its result, instead of ending the batch."""


class TaskStatus(IntEnum):
    """Where one task of a superstep is. Stored by :attr:`label`."""

    PENDING = 0
    DONE = 1
    FAILED = 2
    INTERRUPTED = 3

    @property
    def label(self) -> str:
        """The name stored in checkpoint rows: ``pending``, ``done``, ..."""
        return self.name.lower()

    @classmethod
    def from_label(cls, label: str) -> TaskStatus:
        return cls[label.upper()]


def check_durability(value: Any) -> Durability:
    """``value`` if it is a durability mode, else an error that lists them."""
    if value not in DURABILITY:
        raise InvalidInputError(
            f"durability must be one of {', '.join(map(repr, DURABILITY))}, got {value!r}"
        )
    return value  # type: ignore[no-any-return]


class Writes(list[tuple[str, Any]]):
    """An update given as ordered (key, value) pairs; a subgraph node returns
    its inner nodes' writes this way so the parent's reducers see each one
    (and, in ``final``, the subgraph's last value of each key it wrote)."""

    final: dict[str, Any] | None = None


class Send:
    """Run ``node`` in the next superstep with ``arg`` as its input.

    Returned by a router (or in ``Command(goto=...)``) for fan-out: each
    ``Send`` is its own task, and their writes are applied in the order of
    the ``Send`` objects, whatever order they finish in::

        def fan_out(state):
            return [Send("worker", {"item": x}) for x in state["items"]]
    """

    __slots__ = ("arg", "node")

    def __init__(self, node: str, arg: Any) -> None:
        self.node = node
        self.arg = arg

    def __repr__(self) -> str:
        return f"Send(node={self.node!r}, arg={self.arg!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Send) and other.node == self.node and other.arg == self.arg

    def __hash__(self) -> int:
        return hash((self.node, repr(self.arg)))


@dataclass(frozen=True, slots=True)
class Command(Generic[N]):
    """Update the state and choose where to go next, from one node's return.

    - ``update``: a dict of updates, applied like a plain dict return;
    - ``goto``: a node name, a ``Send``, or a sequence of them, scheduled in
      the next superstep in addition to the node's edges;
    - ``resume``: only as ``invoke()`` input, the answer to a pending
      ``interrupt()`` (a value, or a dict of interrupt id → value).

    Annotate a node that returns ``Command`` as ``-> Command[Literal["a", "b"]]``
    so ``compile()`` knows where it may go.
    """

    update: Any = None
    goto: str | Send | Sequence[str | Send] = ()
    resume: Any = None
    graph: str | None = None

    PARENT: ClassVar[str] = "__parent__"


def adopt_tool_output(mixin: type) -> None:
    """Make :class:`Command` a subclass of ``mixin``, langchain_core's
    ``ToolOutputMixin``: a langchain_core tool returns a value of that kind
    unchanged instead of wrapping it in a ``ToolMessage``, so a tool can
    return a ``Command`` (as LangGraph's ``Command``, which inherits it when
    langchain_core is installed, can). Called by :mod:`wfkit.prebuilt`, which
    imports langchain_core; ``import wfkit`` does not, so the base is added
    then, not here."""
    if not issubclass(Command, mixin):
        Command.__bases__ = (*Command.__bases__, mixin)


@dataclass(frozen=True, slots=True)
class Interrupt:
    """A pause requested by ``interrupt(value)``: the value shown to the human
    and the id to resume it by."""

    value: Any
    id: str = ""


def interrupt(value: Any) -> Any:
    """Pause the run and ask for input; returns the answer once resumed.

    Inside a node: the first time, this raises a signal that pauses the run
    and stores ``value`` as the question. ``invoke(Command(resume=answer),
    config)`` re-runs the node from its start, and this call then returns
    ``answer``. Needs a checkpointer to resume.
    """
    from wfkit import _context

    scratch = _context.current_task.get(None)
    if scratch is not None:
        found, answer = scratch.next_resume()
        if found:
            return answer
    raise GraphInterrupt((Interrupt(value),))


_NO_RETRY: tuple[type[BaseException], ...] = (
    ValueError,
    TypeError,
    ArithmeticError,
    ImportError,
    LookupError,
    NameError,
    SyntaxError,
    RuntimeError,
    ReferenceError,
    StopIteration,
    StopAsyncIteration,
    AttributeError,
    AssertionError,
)


def default_retry_on(exc: BaseException) -> bool:
    """Whether to retry after ``exc`` when no ``retry_on`` is given.

    Programming errors (``ValueError``, ``TypeError``, ``KeyError``, ...)
    are not retried: a second attempt would fail the same way. Timeouts,
    connection errors and HTTP errors with a 5xx status are retried; an HTTP
    error with a 4xx status is not.
    """
    from wfkit.errors import NodeTimeoutError, WfkitError

    if isinstance(exc, NodeTimeoutError | TimeoutError | ConnectionError):
        return True
    if isinstance(exc, WfkitError | GraphInterrupt):
        return False
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if isinstance(status, int):
        return status >= 500
    return not isinstance(exc, _NO_RETRY)


def default_cache_key(value: Any) -> bytes:
    """The cache key of a node's input: its pickled bytes (never unpickled;
    dicts, sets and lists compared by content, dict order ignored)."""
    import pickle

    return pickle.dumps(_freeze(value), protocol=5)


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted(((k, _freeze(v)) for k, v in value.items()), key=repr))
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, set | frozenset):
        return tuple(sorted((_freeze(v) for v in value), key=repr))
    return value


@dataclass(frozen=True, kw_only=True)
class CachePolicy:
    """Reuse a node's result when it is called again with the same input
    (``add_node(..., cache_policy=CachePolicy(ttl=60))``, with a cache given
    to ``compile(cache=InMemoryCache())``). ``key_func`` turns the node's
    input into the key; ``ttl`` is in seconds, ``None`` for no expiry."""

    key_func: Callable[[Any], str | bytes] = default_cache_key
    ttl: float | None = None


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How often and how patiently to retry a failing node.

    Attempt *n* (from 1) waits ``min(initial_interval * backoff**(n-1),
    max_interval)`` seconds before the next one, scaled by a random factor
    in [0.5, 1.5) when ``jitter`` is true. ``retry_on`` is an exception
    class, a tuple of them, or a predicate; the default is
    :func:`default_retry_on`. ``backoff_factor`` is accepted as LangGraph's
    name for ``backoff``.
    """

    max_attempts: int = 3
    initial_interval: float = 0.5
    backoff: float = 2.0
    max_interval: float = 128.0
    jitter: bool = True
    retry_on: (
        type[BaseException]
        | tuple[type[BaseException], ...]
        | list[type[BaseException]]
        | Callable[[BaseException], bool]
    ) = field(default=default_retry_on)
    backoff_factor: InitVar[float | None] = None

    def __post_init__(self, backoff_factor: float | None) -> None:
        if backoff_factor is not None:
            object.__setattr__(self, "backoff", backoff_factor)
        rule = self.retry_on
        if isinstance(rule, list | tuple):
            rule = tuple(rule)
            object.__setattr__(self, "retry_on", rule)
        ok = (
            all(isinstance(c, type) and issubclass(c, BaseException) for c in rule)
            if isinstance(rule, tuple)
            else (isinstance(rule, type) and issubclass(rule, BaseException)) or callable(rule)
        )
        if not ok:
            raise GraphValidationError(
                f"RetryPolicy.retry_on must be an exception class, a list of them, or a "
                f"function of the exception; got {rule!r}"
            )
        if self.max_attempts < 1:
            raise GraphValidationError(
                f"RetryPolicy.max_attempts must be at least 1, got {self.max_attempts}"
            )
        if self.initial_interval < 0 or self.max_interval < 0 or self.backoff < 0:
            raise GraphValidationError("RetryPolicy intervals and backoff must not be negative")

    def should_retry(self, exc: BaseException) -> bool:
        """Whether ``exc`` is worth another attempt under this policy."""
        rule = self.retry_on
        if isinstance(rule, type):
            return isinstance(exc, rule)
        if isinstance(rule, tuple | list):
            return isinstance(exc, tuple(rule))
        return bool(rule(exc))

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (from 1)."""
        wait: float = min(self.initial_interval * self.backoff ** (attempt - 1), self.max_interval)
        if self.jitter:
            wait *= 0.5 + random.random()
        return wait
