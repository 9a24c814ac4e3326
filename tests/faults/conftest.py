"""The fault suite's figures (kills survived, files refused, inputs tried),
printed at the end of the session."""

from __future__ import annotations

from typing import Any

from crashlib import FIGURES


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("faults: figures")
        for name, count in sorted(FIGURES.items()):
            terminalreporter.write_line(f"{name}: {count:,}")
