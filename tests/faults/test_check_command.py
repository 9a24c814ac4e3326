"""``wfkit check FILE``: finds what is wrong, says how to recover, and never
changes the file."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from crashlib import FIGURES, spawn
from hostile import digest, make_store_file

from wfkit.cli import main


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("check") / "runs.duckdb"
    make_store_file(path)
    return path


def _check(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    before = digest(path)
    code = main(["check", str(path)])
    out = capsys.readouterr().out
    assert digest(path) == before, "wfkit check changed the file"
    FIGURES["files checked"] += 1
    return code, out


def _copy(good: Path, tmp_path: Path, *statements: str) -> Path:
    path = tmp_path / "copy.duckdb"
    shutil.copy(good, path)
    con = duckdb.connect(str(path))
    for s in statements:
        con.execute(s)
    con.close()
    return path


def test_a_good_file_is_ok(good: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _check(good, capsys)
    assert code == 0 and out.startswith(f"{good}: ok")
    assert "3 threads, 24 checkpoints" in out  # each run: its input checkpoint too


@pytest.mark.parametrize(
    ("sql", "expect"),
    [
        (
            "UPDATE wf_values SET base_version = version WHERE thread_id = 't1' AND kind = 'append'",
            r"thread 't1'.*cycle.*delete_thread\('t1'\)",
        ),
        (
            "DELETE FROM wf_values WHERE thread_id = 't2' AND kind = 'set' AND key = 'log'",
            r"thread 't2'.*state key 'log' is missing",
        ),
        ("DELETE FROM wf_checkpoints WHERE thread_id = 't3' AND step = 0", r"thread 't3'.*missing"),
        (
            "UPDATE wf_checkpoints SET parent_id = checkpoint_id WHERE thread_id = 't3' AND step = 0",
            r"thread 't3'.*parents come back to it \(a cycle",
        ),
        ("INSERT INTO wf_journal VALUES (7, '{\"a\": 1}')", r"journal entry 7 cannot be read"),
        ("UPDATE wf_meta SET value = 'abc' WHERE key = 'schema_version'", r"schema version 'abc'"),
        ("ALTER TABLE wf_values DROP COLUMN kind", r"wf_values.kind is missing"),
    ],
)
def test_problems_are_named_with_a_fix(
    good: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], sql: str, expect: str
) -> None:
    import re

    code, out = _check(_copy(good, tmp_path, sql), capsys)
    assert code == 1 and "problem:" in out
    assert re.search(expect, out), out


def test_rows_a_crash_left_in_the_journal_are_noted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "runs.duckdb"
    proc = spawn(db, tmp_path / "child.log", "send", "sync", 2, "journal-written:3")
    proc.communicate(timeout=120)
    code, out = _check(db, capsys)
    assert code == 0 and "rows in the journal (left by a crash)" in out, out


def test_refused_journal_rows_are_a_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from test_store_inputs import CHILD, _child_env

    db = tmp_path / "runs.duckdb"
    subprocess.run([sys.executable, "-c", CHILD, str(db)], env=_child_env(), check=True, timeout=60)
    code, out = _check(db, capsys)
    assert code == 1 and "rows of thread 'bad' the tables refuse" in out, out


@pytest.mark.parametrize("content", [b"", b"not a database at all", None])
def test_files_that_are_not_stores(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None
) -> None:
    path = tmp_path / "x.duckdb"
    if content is not None:
        path.write_bytes(content)
        code, out = _check(path, capsys)
    else:
        code, out = main(["check", str(path)]), capsys.readouterr().out
    assert code == 1 and "problem:" in out


def test_a_foreign_duckdb_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "sales.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE wf_meta (id INT)")
    con.close()
    code, out = _check(path, capsys)
    assert code == 1 and "wf_meta table that is not wfkit's" in out


def test_a_duckdb_file_of_someone_elses_without_tables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "theirs.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE SEQUENCE ids")
    con.close()
    code, out = _check(path, capsys)
    assert code == 1 and "not a wfkit checkpoint store (it has sequence ids)" in out
