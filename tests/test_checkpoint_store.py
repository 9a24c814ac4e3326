"""The store contract (``wfkit.checkpoint.testing``) over both wfkit stores."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.register_assert_rewrite("wfkit.checkpoint.testing")  # detailed messages from its asserts

from wfkit.checkpoint import Checkpointer, Durability, MemoryCheckpointer  # noqa: E402
from wfkit.checkpoint.duckdb import DuckDBCheckpointer  # noqa: E402
from wfkit.checkpoint.testing import CheckpointerContract  # noqa: E402


class TestMemoryCheckpointer(CheckpointerContract):
    def make_store(self, path: Path, *, durability: Durability = "async") -> Checkpointer:
        return MemoryCheckpointer(durability=durability)


class TestDuckDBCheckpointer(CheckpointerContract):
    persistent = True

    def make_store(self, path: Path, *, durability: Durability = "async") -> Checkpointer:
        return DuckDBCheckpointer(path / "sub" / "runs.duckdb", durability=durability)
