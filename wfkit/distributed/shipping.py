"""Getting node functions to the workers: cloudpickle once per function,
and a pre-flight probe that unpickles them on every worker.

cloudpickle sends a function defined in a notebook or script (``__main__``)
by value and one from an importable module by reference, so the workers
must be able to import that module. Both failures are found before a run
or batch starts and reported as :class:`~wfkit.errors.NodeShippingError`
naming the node and the fix, instead of as a worker's traceback halfway
through a batch.
"""

from __future__ import annotations

import hashlib
import threading
from typing import TYPE_CHECKING, Any

from wfkit.errors import NodeShippingError

if TYPE_CHECKING:
    from wfkit.graph.topology import NodeSpec, Topology

__all__ = ["Shipped", "node_specs"]


def node_specs(topology: Topology) -> list[NodeSpec]:
    """The nodes whose calls travel: every node, subgraphs' nodes included
    (a subgraph's own loop runs in the driver), but not a ``local`` one
    (a functional entrypoint: its tasks are checked as they are first called)."""
    out: list[NodeSpec] = []
    for spec in topology.nodes:
        if spec.local:  # runs in the driver (a functional entrypoint's body)
            continue
        sub = spec.subgraph
        if sub is None:
            out.append(spec)
        else:
            inner = getattr(sub, "topology", None)
            if inner is not None:
                out.extend(node_specs(inner))
    return out


class Shipped:
    """The pickled functions of one executor, each probed on the workers once."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._blobs: dict[int, tuple[Any, str, bytes]] = {}  # id(fn) -> (fn, digest, blob)
        self._probed: set[str] = set()
        self._lock = threading.Lock()

    def cached(self, node: NodeSpec) -> tuple[str, bytes] | None:
        """The node's function as (digest, bytes) if it was checked already, else None."""
        entry = self._blobs.get(id(node.fn))
        if entry is not None and entry[0] is node.fn and entry[1] in self._probed:
            return entry[1], entry[2]
        return None

    def get(self, node: NodeSpec) -> tuple[str, bytes]:
        """The node's function as (digest, bytes), checked on the workers the first time."""
        entry = self._blobs.get(id(node.fn))
        if entry is not None and entry[0] is node.fn:
            return entry[1], entry[2]
        self.check([node])
        entry = self._blobs[id(node.fn)]
        return entry[1], entry[2]

    def check(self, nodes: list[NodeSpec]) -> None:
        """Pickle each node's function and unpickle it on every worker; raise
        :class:`NodeShippingError` for the first that fails."""
        fresh: dict[str, tuple[NodeSpec, str, bytes]] = {}
        for node in nodes:
            digest, blob = self._pickle(node)
            if digest not in self._probed:
                fresh[node.name] = (node, digest, blob)
        if not fresh:
            return
        from wfkit.distributed.worker import probe

        try:
            answers = self.client.run(probe, {name: blob for name, (_, _, blob) in fresh.items()})
        except ModuleNotFoundError as exc:
            raise NodeShippingError(
                f"the Dask workers cannot import {exc.name!r} ({exc}); wfkit must be installed "
                f"on the workers too (pip install wfkit there, the same version as here)"
            ) from exc
        for worker, failures in sorted(answers.items()):
            for name, (error, module) in failures.items():
                raise NodeShippingError(_probe_message(name, worker, error, module))
        with self._lock:
            self._probed.update(digest for _, digest, _ in fresh.values())

    def _pickle(self, node: NodeSpec) -> tuple[str, bytes]:
        stays = [name for name in node.wants_config if name != "config"]
        if stays:
            raise NodeShippingError(
                f"node {node.name!r} takes {', '.join(map(repr, stays))}, which stay in the "
                f"driver (the run's stream, store and runtime are not sent to Dask workers); "
                f"take only state and config in a node that runs on the cluster, or run it here "
                f"with executor='local'"
            )
        fn = node.fn
        entry = self._blobs.get(id(fn))
        if entry is not None and entry[0] is fn:
            return entry[1], entry[2]
        import cloudpickle

        try:
            blob = cloudpickle.dumps(fn)
        except Exception as exc:
            raise NodeShippingError(
                f"node {node.name!r} cannot be sent to the Dask workers: its function does not "
                f"pickle ({type(exc).__name__}: {exc}). Keep what it refers to picklable (no open "
                f"files, locks, connections or clients in its closure or globals; open them inside "
                f"the node), or run it here with executor='local'"
            ) from exc
        digest = hashlib.blake2b(blob, digest_size=12).hexdigest()
        with self._lock:
            self._blobs[id(fn)] = (fn, digest, blob)
        return digest, blob


def _probe_message(node: str, worker: str, error: str, module: str | None) -> str:
    if module is not None:
        top = module.split(".")[0]
        return (
            f"node {node!r} needs the module {module!r}, which the Dask worker {worker} cannot "
            f"import ({error}). Install it on the workers (pip install {top} in their "
            f"environment), or send a single-file module with client.upload_file('{top}.py'); "
            f"a function defined in the notebook itself is sent by value"
        )
    return (
        f"node {node!r} cannot be loaded on the Dask worker {worker} ({error}); the workers need "
        f"the same packages as this process"
    )
