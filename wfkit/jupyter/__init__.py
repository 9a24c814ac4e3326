"""The notebook layer: ``%load_ext wfkit`` registers the ``%%workflow``
magics (:mod:`wfkit.jupyter.magics`) and the debugger's view
(:mod:`wfkit.jupyter.widget`) with IPython's display formatter, so a bare
``debugger`` in a cell shows the widget. Nothing outside this package
imports IPython or ipywidgets, and nothing imports this package."""

from __future__ import annotations

from typing import Any

__all__ = ["load_ipython_extension", "unload_ipython_extension"]


def load_ipython_extension(ipython: Any) -> None:
    from wfkit.debugger import Debugger
    from wfkit.jupyter.magics import WorkflowMagics
    from wfkit.jupyter.widget import show_debugger

    ipython.register_magics(WorkflowMagics)
    ipython.display_formatter.mimebundle_formatter.for_type(Debugger, show_debugger)
    if not ipython.custom_exceptions:  # never replace a handler someone else set
        ipython.set_custom_exc((Exception,), _show_node_error)
        _handled.add(id(ipython))


_handled: set[int] = set()  # the shells whose exception handler wfkit installed


def _show_node_error(
    shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None
) -> None:
    """Show a cell's exception as IPython does, without wfkit's own frames
    when a node raised it (:mod:`wfkit._tracebacks`)."""
    from wfkit._tracebacks import user_traceback

    shell.showtraceback(
        (etype, value, user_traceback(value, tb)), tb_offset=tb_offset, running_compiled_code=True
    )


def unload_ipython_extension(ipython: Any) -> None:
    magics = ipython.magics_manager.registry.get("WorkflowMagics")
    if magics is not None:
        # stores stay open: the notebook's workflow variables still use them
        ipython.magics_manager.registry.pop("WorkflowMagics", None)
        ipython.magics_manager.magics["cell"].pop("workflow", None)
        ipython.magics_manager.magics["line"].pop("workflow", None)
    from wfkit.debugger import Debugger

    ipython.display_formatter.mimebundle_formatter.type_printers.pop(Debugger, None)
    if id(ipython) in _handled:
        _handled.discard(id(ipython))
        if ipython.custom_exceptions == (Exception,):  # still ours
            ipython.set_custom_exc((), None)
