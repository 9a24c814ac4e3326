"""The notebook layer: ``%load_ext wfkit`` registers the ``%%workflow``
magics (:mod:`wfkit.jupyter.magics`); the debugger widget lives in
:mod:`wfkit.jupyter.widget`. Nothing outside this package imports IPython
or ipywidgets."""

from __future__ import annotations

from typing import Any

__all__ = ["load_ipython_extension", "unload_ipython_extension"]


def load_ipython_extension(ipython: Any) -> None:
    from wfkit.jupyter.magics import WorkflowMagics

    ipython.register_magics(WorkflowMagics)


def unload_ipython_extension(ipython: Any) -> None:
    magics = ipython.magics_manager.registry.get("WorkflowMagics")
    if magics is not None:
        # stores stay open: the notebook's workflow variables still use them
        ipython.magics_manager.registry.pop("WorkflowMagics", None)
        ipython.magics_manager.magics["cell"].pop("workflow", None)
        ipython.magics_manager.magics["line"].pop("workflow", None)
