"""Binder builds from `binder/` alone: the Python version it pins, the
versions CI tested, the repository itself and Graphviz; and an environment
made from those files (a fresh venv with that Python, the packages from the
machine's package index) runs every tutorial to its end."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
BINDER = ROOT / "binder"
TUTORIALS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def binder_python() -> str:
    """The X.Y that `binder/runtime.txt` asks repo2docker for."""
    runtime = (BINDER / "runtime.txt").read_text().strip()
    assert runtime.startswith("python-"), (
        f"binder/runtime.txt must read python-X.Y, not {runtime!r}"
    )
    return runtime.removeprefix("python-")


def test_binder_files_pin_what_ci_tested() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    version = binder_python()
    assert Version(version) in SpecifierSet(project["requires-python"]), (
        f"binder/runtime.txt asks for Python {version}, which requires-python "
        f"{project['requires-python']} excludes"
    )
    # the constraints come from the environment the tests ran in, on this Python
    tested = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert version == tested, f"binder/runtime.txt says {version}; CI tests with {tested}"
    requirements = (BINDER / "requirements.txt").read_text().splitlines()
    assert "-c constraints.txt" in requirements
    assert "-e .[lab]" in requirements, "Binder must install the repository itself"
    assert "graphviz" in (BINDER / "apt.txt").read_text().split()
    pins = {}
    for line in (BINDER / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            req = Requirement(line)
            pins[req.name.lower()] = str(req.specifier)
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from binder_constraints import closure  # what make binder-constraints writes
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    tested = {name: f"=={version}" for name, version in closure().items()}
    for name in (
        "polars",
        "duckdb",
        "ipykernel",
        "ipywidgets",
        "jupyterlab",
        "distributed",
        "langchain-core",
    ):
        assert name in tested
    stale = sorted(
        f"{name} {pins.get(name) or 'not pinned'} (tested {version})"
        for name, version in tested.items()
        if pins.get(name) != version
    )
    assert not stale, (
        f"binder/constraints.txt differs from the versions the tests ran with: "
        f"{', '.join(stale)}; run make binder-constraints"
    )
    extra = sorted(set(pins) - set(tested))
    assert not extra, f"binder/constraints.txt pins {extra}, which wfkit[lab] does not pull in"


@pytest.mark.binder
def test_an_environment_built_from_binder_runs_every_tutorial(tmp_path: Path) -> None:
    version = binder_python()
    python = shutil.which(f"python{version}")
    assert python, f"binder/runtime.txt asks for Python {version}; no python{version} on PATH"
    venv = tmp_path / "venv"
    subprocess.run([python, "-m", "venv", str(venv)], check=True, timeout=120)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = os.pathsep.join([str(venv / "bin"), env.get("PATH", "")])
    # what repo2docker does: pip install -r binder/requirements.txt from the root
    install = subprocess.run(
        [venv / "bin" / "python", "-m", "pip", "install", "-q", "-r", "binder/requirements.txt"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    where = subprocess.run(
        [
            venv / "bin" / "python",
            "-c",
            "import wfkit, polars; print(wfkit.__file__, polars.__version__)",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert where[0] == str(ROOT / "wfkit" / "__init__.py")
    from importlib import metadata

    assert where[1] == metadata.version("polars"), "constraints.txt was not applied"

    assert len(TUTORIALS) >= 2
    work = tmp_path / "notebooks"
    work.mkdir()
    for notebook in TUTORIALS:
        shutil.copy(notebook, work / notebook.name)
    for notebook in TUTORIALS:
        # nbclient in that environment, a kernel of that environment; an error
        # in any cell fails the run
        done = subprocess.run(
            [venv / "bin" / "jupyter", "execute", "--kernel_name=python3", notebook.name],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, (
            f"{notebook.name} failed in the Binder environment:\n{done.stderr}"
        )
