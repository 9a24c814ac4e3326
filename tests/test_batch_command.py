"""``wfkit batch``: one run per JSONL line, results appended as runs finish,
``--resume`` skipping what finished, on the local drivers or on Dask."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from wfkit.cli import main

MODULE = textwrap.dedent(
    """
    import os
    from typing import TypedDict
    from wfkit import StateGraph, START

    class S(TypedDict, total=False):
        n: int
        doubled: int

    def double(state):
        folder = os.path.dirname(os.path.abspath(__file__))
        with open(os.path.join(folder, "calls.log"), "a") as log:
            log.write(f"{state['n']}\\n")
        if state["n"] % 4 == 3 and not os.path.exists(os.path.join(folder, "fixed")):
            raise ConnectionError(f"flaky service for {state['n']}")
        return {"doubled": state["n"] * 2}

    app = StateGraph(S).add_node("double", double).add_edge(START, "double")
    """
)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    name = f"batchmod_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(MODULE)
    (tmp_path / "inputs.jsonl").write_text("".join(json.dumps({"n": i}) + "\n" for i in range(10)))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _calls(project: Path) -> list[int]:
    return sorted(int(x) for x in (project / "calls.log").read_text().split())


def _target(project: Path) -> str:
    return f"{next(project.glob('batchmod_*.py')).stem}:app"


def test_batch_writes_each_run_and_resume_runs_only_the_unfinished(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [_target(project), "--inputs", "inputs.jsonl", "--out", "out.jsonl"]
    assert main(["batch", *args, "--checkpoints", "runs.duckdb"]) == 1
    rows = _rows(project / "out.jsonl")
    assert sorted(r["index"] for r in rows) == list(range(10))
    failed = sorted(r["index"] for r in rows if r["status"] == "error")
    assert failed == [3, 7]
    assert {r["thread"] for r in rows} == {f"inputs-{i}" for i in range(10)}
    assert next(r for r in rows if r["index"] == 4)["output"] == {"n": 4, "doubled": 8}
    assert "ConnectionError: flaky service for 7" in next(
        r["error"] for r in rows if r["index"] == 7
    )
    err = capsys.readouterr()
    assert "8 ok, 2 failed" in err.out and "batch " in err.err  # the summary, the bar

    assert main(["batch", *args]) == 2  # the results file exists: refuse to append blindly
    assert "pass --resume" in capsys.readouterr().err

    (project / "fixed").touch()
    (project / "calls.log").unlink()
    assert main(["batch", *args, "--checkpoints", "runs.duckdb", "--resume", "-q"]) == 0
    assert _calls(project) == [3, 7]  # only the failed runs ran again, from their checkpoint
    done = {r["index"] for r in _rows(project / "out.jsonl") if r["status"] == "ok"}
    assert done == set(range(10))
    assert "(8 skipped, finished before)" in capsys.readouterr().out
    assert main(["batch", *args, "--resume"]) == 0
    assert "all 10 runs are finished" in capsys.readouterr().out


def test_batch_on_a_dask_cluster(project: Path, process_client: Any) -> None:
    # the module goes to the workers as a file (they cannot import it from here)
    process_client.upload_file(str(next(project.glob("batchmod_*.py"))))
    ns = [i for i in range(12) if i % 4 != 3]  # none of the flaky ones
    (project / "inputs.jsonl").write_text("".join(json.dumps({"n": n}) + "\n" for n in ns))
    address = process_client.scheduler.address
    args = [_target(project), "--inputs", "inputs.jsonl", "--out", "out.jsonl", "-q"]
    assert main(["batch", *args, "--dask", address]) == 0
    rows = _rows(project / "out.jsonl")
    assert sorted(r["output"]["doubled"] for r in rows) == [2 * n for n in ns]
    assert not (project / "calls.log").exists()  # the calls ran in the workers' folders


def test_bad_inputs_are_named(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "bad.jsonl").write_text('{"n": 1}\n[2]\n')
    assert main(["batch", _target(project), "--inputs", "bad.jsonl", "--out", "o.jsonl"]) == 2
    assert "bad.jsonl, line 2: an input must be a JSON object" in capsys.readouterr().err
