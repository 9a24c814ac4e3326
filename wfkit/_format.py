"""How wfkit writes a measured number for people: three significant
digits, zeros kept (``1.50``, ``0.0421``, ``123``), so numbers side by side
read with one precision. Used by the heat map's labels and the notebook's
tables."""

from __future__ import annotations

import math

__all__ = ["significant"]


def significant(value: float, digits: int = 3) -> str:
    """``value`` with ``digits`` significant digits, in fixed point."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(value)
    exponent = math.floor(math.log10(abs(value)))
    decimals = max(0, digits - 1 - exponent)
    text = f"{value:.{decimals}f}"
    if decimals and len(text.lstrip("-").replace(".", "").lstrip("0")) > digits:
        text = f"{value:.{decimals - 1}f}"  # rounding carried over: 9.996 -> 10.0
    return text
