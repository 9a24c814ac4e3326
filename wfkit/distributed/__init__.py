"""Node work on a Dask cluster; the loop, checkpoints and traces stay here.

::

    from distributed import Client, LocalCluster
    from wfkit.distributed import DaskExecutor

    client = Client(LocalCluster(n_workers=2))
    app = graph.compile(checkpointer="runs.duckdb", executor=DaskExecutor(client))
    results = app.batch(inputs)

Dask is an optional extra (``pip install 'wfkit[dask]'``): this package
imports without it, and ``DaskExecutor(...)`` says how to install it. See
``docs/scale-out.md``.
"""

from wfkit.distributed.executor import DaskExecutor

__all__ = ["DaskExecutor"]
