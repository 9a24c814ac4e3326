"""The fault suite's figures (kills survived, files refused, inputs tried,
writes checked), printed at the end of the session."""

from __future__ import annotations

from typing import Any

from crashlib import FIGURES, REPORTS

INPUTS = "inputs tried"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not (FIGURES or REPORTS):
        return
    terminalreporter.section("faults: figures")
    parts = {k: v for k, v in FIGURES.items() if k.startswith(INPUTS + ":")}
    lines = {k: v for k, v in FIGURES.items() if k not in parts}
    if parts:
        lines[INPUTS] = sum(parts.values())
    for name, count in sorted(lines.items()):
        terminalreporter.write_line(f"{name}: {count:,}")
        if name == INPUTS:
            for part, n in sorted(parts.items()):
                terminalreporter.write_line(f"  {part.removeprefix(INPUTS + ': ')}: {n:,}")
    for line in REPORTS:
        terminalreporter.write_line(line)
