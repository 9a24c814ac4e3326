"""The debugger's drawn graph as a widget you can click (anywidget).

Python draws the graph (Graphviz SVG, with the debugger's marks: next,
finished, failed, breakpoints) and sets ``svg``; the browser shows it and
makes each node of ``nodes`` clickable. A click sends ``{"event": "click",
"node": NAME}`` back, and the callbacks given to :meth:`GraphView.on_click`
get the node's name. Graphviz names each node's SVG group by a ``<title>``
holding the node id, which is how the browser finds the nodes.

anywidget renders in JupyterLab, Notebook 7 and VS Code with no extension
of wfkit's own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anywidget
import traitlets

__all__ = ["GraphView"]

_ESM = """
function render({ model, el }) {
  el.classList.add("wfkit-graph");
  const draw = () => {
    el.innerHTML = model.get("svg");
    const nodes = new Set(model.get("nodes"));
    for (const group of el.querySelectorAll("g.node")) {
      const title = group.querySelector("title");
      const name = title ? title.textContent : "";
      if (!nodes.has(name)) continue;
      group.dataset.node = name;
      group.style.cursor = "pointer";
      group.addEventListener("click", () => model.send({ event: "click", node: name }));
    }
  };
  model.on("change:svg", draw);
  model.on("change:nodes", draw);
  draw();
}
export default { render };
"""

_CSS = """
.wfkit-graph g.node[data-node]:hover polygon,
.wfkit-graph g.node[data-node]:hover path { stroke-width: 3; }
.wfkit-graph title { pointer-events: none; }
"""


class GraphView(anywidget.AnyWidget):
    """A Graphviz SVG whose nodes (those named in ``nodes``) can be clicked."""

    _esm = _ESM
    _css = _CSS
    svg = traitlets.Unicode("").tag(sync=True)
    nodes = traitlets.List(traitlets.Unicode()).tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._callbacks: list[Callable[[str], None]] = []
        self.on_msg(self._message)

    def on_click(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(node_name)`` when a node is clicked."""
        self._callbacks.append(callback)

    def _message(self, _: Any, content: Any, buffers: Any) -> None:
        if not isinstance(content, dict) or content.get("event") != "click":
            return
        node = content.get("node")
        if isinstance(node, str) and node in self.nodes:
            for callback in list(self._callbacks):
                callback(node)
