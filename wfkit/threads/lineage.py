"""Checkpoints of the graphs that run inside a task of another: a subgraph
node, or a graph a node calls (``inner.invoke(...)``), when the outer run has
a checkpointer.

As in LangGraph, each such run keeps checkpoints of its own under its
*checkpoint namespace*: ``"node:task_id"`` of the task it runs in, after the
namespace of the run that task belongs to (``"outer:1:0:outer|inner:0:1:inner"``),
and ``"|n"`` for the n-th graph (after the first) that one task calls. So a
resumed task resumes the graphs inside it from their own checkpoints: their
nodes that finished before the ``interrupt()`` (or the failure) do not run
again. ``get_state(config, subgraphs=True)`` and a config naming a namespace
read them.

A namespace's rows are stored as a thread of its own
(:func:`wfkit._ids.lineage_key`): the root thread's id, the unit separator
(U+001F, which thread ids may not contain) and the namespace. Every store keeps them without knowing it, and
reading a namespace is reading a thread; ``threads()`` lists root threads
only, and ``delete_thread()`` deletes a thread's namespaces with it.

A run knows where its own checkpoints go through its :class:`Lineage`
(in its config under :data:`LINEAGE`), from which the graphs its tasks run
open theirs (:func:`open_nested`).
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from wfkit._context import TaskScratch
from wfkit._ids import lineage_key
from wfkit.checkpoint.rows import CheckpointRecord, WriteRecord
from wfkit.checkpoint.serde import Serde
from wfkit.engine.machine import DONE, Machine
from wfkit.threads.saver import (
    LOG_ROW,
    Loaded,
    RunSaver,
    is_input,
    load,
    load_writes,
    reader,
    reading,
    restore,
)
from wfkit.types import START

if TYPE_CHECKING:
    from wfkit.checkpoint.base import Checkpointer
    from wfkit.graph.topology import Topology

__all__ = [
    "LINEAGE",
    "NS_SEP",
    "Lineage",
    "Opened",
    "graph_at",
    "node_names",
    "open_nested",
    "serde_for",
]

LINEAGE: Final = "wfkit_lineage"  # config key: the checkpointed run's Lineage
NS_SEP: Final = "|"  # between the levels of a namespace (LangGraph's)


def node_names(ns: str) -> list[str]:
    """The node names along a namespace: ``"a:1:0:a|b:0:0:b|1"`` -> ``["a", "b"]``."""
    return [part.split(":")[0] for part in ns.split(NS_SEP) if part and not part.isdigit()]


_serdes: weakref.WeakKeyDictionary[Topology, dict[int, Serde]] = weakref.WeakKeyDictionary()


def serde_for(topology: Topology, store: Checkpointer) -> Serde:
    """The value encoding of ``topology``'s state in ``store`` (made once)."""
    per_store = _serdes.get(topology)
    if per_store is None:
        per_store = _serdes[topology] = {}
    serde = per_store.get(id(store))
    if serde is None:
        serde = per_store[id(store)] = Serde(topology.schema.cls, **store.serde_options)
    return serde


def graph_at(topology: Topology, ns: str) -> Topology:
    """The topology of the graph that runs at namespace ``ns`` below
    ``topology``: the subgraph of each node named along it (or the first graph
    the node's code calls). A name that runs no graph ends the walk there, as
    LangGraph reads such a namespace with the graph it has got to."""
    for name in node_names(ns):
        node = topology.by_name.get(name)
        if node is None:
            break
        graph = node.subgraph if node.subgraph is not None else next(iter(node.calls), None)
        if graph is None:
            break
        topology = graph.topology
    return topology


class Lineage:
    """Where one checkpointed run keeps its checkpoints: the store, the root
    thread, the run's namespace (``""`` for the root run), the checkpoints of
    the runs it is nested in (LangGraph's metadata ``parents``: namespace ->
    checkpoint id), and its saver, whose current checkpoint the graphs its
    tasks run name as their parent."""

    __slots__ = ("durability", "failed", "ns", "parents", "replay", "saver", "store", "thread")

    def __init__(
        self,
        store: Checkpointer,
        thread: str,
        ns: str,
        parents: dict[str, str],
        saver: RunSaver,
        *,
        replay: bool = False,
    ) -> None:
        self.store = store
        self.thread = thread
        self.ns = ns
        self.parents = parents
        self.saver = saver
        self.durability = saver.durability
        # the run replays a checkpoint (time travel): the graphs its tasks run start over
        self.replay = replay
        # namespaces of the graphs this run's tasks ran that failed in this run: a
        # task retried (RetryPolicy) runs them again from their start, as LangGraph does
        self.failed: set[str] = set()

    @property
    def key(self) -> str:
        return lineage_key(self.thread, self.ns)

    def child_ns(self, part: str, call: int = 0) -> str:
        """The namespace of the ``call``-th graph (from 0) that the task
        ``part`` (``"node:task_id"``) of this run runs."""
        ns = f"{self.ns}{NS_SEP}{part}" if self.ns else part
        return f"{ns}{NS_SEP}{call}" if call else ns


class Opened(NamedTuple):
    """A nested run, set up: its machine, the input still to apply (None:
    it continues from its checkpoint), its saver and lineage, and what it
    wrote before (subgraph nodes return every write they made)."""

    machine: Machine
    start: dict[str, Any] | None
    saver: RunSaver
    lineage: Lineage
    earlier: list[tuple[str, int, Any]]


def open_nested(
    topology: Topology,
    parent: Lineage,
    ns: str,
    updates: dict[str, Any],
    *,
    recursion_limit: int,
    scratch: TaskScratch | None,
    with_earlier: bool = False,
) -> Opened:
    """Set up the run of ``topology`` at namespace ``ns`` inside a task of
    the run ``parent`` belongs to, as LangGraph does.

    When the namespace's newest checkpoint has the same parents (the same
    task ran it before: a resume, ``invoke(None)`` after a failure), the run
    continues from it, keeping what its finished tasks wrote: an
    interrupted task gets the answer its caller's task was given for it
    (``scratch``), and a finished run is not run again. Otherwise it starts
    with ``updates``. ``with_earlier``: also read the writes of the steps
    before that checkpoint (a subgraph node's result is all of them)."""
    store = parent.store
    serde = serde_for(topology, store)
    parents = {**parent.parents, parent.ns: parent.saver.checkpoint_id or ""}
    key = lineage_key(parent.thread, ns)
    view = reader(store, key)
    loaded = load(view, serde, key)
    if (
        loaded is not None
        and not parent.replay
        and ns not in parent.failed
        and not is_input(loaded)
        and loaded.metadata.get("parents") == parents
    ):
        load_writes(view, loaded)
        machine = restore(
            topology,
            loaded,
            serde,
            recursion_limit=loaded.step + 1 + recursion_limit,
            with_writes=True,
        )
        if machine.status == "interrupted" and machine.interrupts:
            found, answer = scratch.nested(ns) if scratch is not None else (False, None)
            if found:
                machine.answer(answer)
        saver = RunSaver(
            store, serde, key, durability=parent.durability, base=loaded, parents=parents
        )
        saver.keep_done = False
        saver.keep_log = with_earlier
        earlier = _earlier(view, serde, loaded) if with_earlier else []
        lineage = Lineage(store, parent.thread, ns, parents, saver)
        return Opened(machine, None, saver, lineage, earlier)
    machine = Machine(topology, recursion_limit=recursion_limit)
    saver = RunSaver(store, serde, key, durability=parent.durability, base=None, parents=parents)
    saver.keep_done = False
    saver.keep_log = with_earlier
    if loaded is not None:  # another branch's run under the same namespace: versions go on
        saver.next_version = store.max_version(key) + 1
    return Opened(machine, updates, saver, Lineage(store, parent.thread, ns, parents, saver), [])


def _earlier(view: Any, serde: Serde, loaded: Loaded) -> list[tuple[str, int, Any]]:
    """The writes of the finished tasks of every step before ``loaded``, in
    step and task order (oldest first): a run under ``durability="exit"``
    stored them in a row of their own (``LOG_ROW``), else they are the
    write rows of the checkpoints before it."""
    key = loaded.thread_id
    for raw in view.get_writes(key, loaded.checkpoint_id):
        row = WriteRecord._make(raw)
        if row.node == LOG_ROW:
            with reading(f"the writes before checkpoint {loaded.checkpoint_id!r} of {key!r}"):
                return [(LOG_ROW, -1, serde.loads(row.result))]
    chain = []
    cid = loaded.parent_id
    while cid:
        raw = view.get_checkpoint(key, cid)
        if raw is None:
            break
        chain.append(cid)
        cid = CheckpointRecord._make(raw).parent_id
    out: list[tuple[str, int, Any]] = []
    for cid in reversed(chain):
        latest: dict[int, WriteRecord] = {}
        for raw in view.get_writes(key, cid):
            row = WriteRecord._make(raw)
            latest[int(row.task_index)] = row  # oldest first: a task's newest row wins
        for index in sorted(latest):
            row = latest[index]
            if row.status != DONE.label or row.node == START:
                continue
            with reading(f"the write of task {row.task_id!r} of thread {key!r}"):
                out.append((row.node, index, serde.loads(row.result)))
    return out
