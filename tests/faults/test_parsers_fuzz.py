"""The ``%%workflow`` cell parser and the ``wfkit`` command line, fuzzed:
each input either works or raises ``UsageError`` / a clear wfkit error
(the CLI: exits with a one-line message), never a traceback from inside
wfkit. An error raised by the cell's own Python code is the user's.
"""

from __future__ import annotations

import contextlib
import io
import os
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from crashlib import FIGURES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import wfkit
from wfkit import cli
from wfkit.errors import WfkitError

STATE = """
import operator
from typing import Annotated, TypedDict
class S(TypedDict, total=False):
    log: Annotated[list, operator.add]
"""

NAMES = ["a", "b", "c", "START", "END", "route", "_private", "def", "None", "x1"]
names = st.sampled_from(NAMES)
junk = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
separator = st.sampled_from([",", "&", "|", " , ", "&&", ""])
arrow = st.sampled_from(["->", " -> ", "- >", "=>", "->>", "-->"])


@st.composite
def edge_lines(draw: st.DrawFn) -> str:
    srcs = draw(st.lists(names, min_size=1, max_size=3))
    dsts = draw(st.lists(names, min_size=1, max_size=3))
    line = draw(separator).join(srcs) + draw(arrow) + draw(separator).join(dsts)
    if draw(st.booleans()):
        line += draw(st.sampled_from([" : ", ":", " :: "])) + draw(names | junk)
    if draw(st.booleans()):
        line += draw(st.sampled_from(["  # note", "#", " # -> x"]))
    return draw(st.sampled_from(["", "  ", "\t"])) + line


def_lines = names.map(lambda n: f"def {n}(state):\n    return {{'log': [{n!r}]}}")
router_lines = st.just("def route(state):\n    return 'b'")
python_lines = st.sampled_from(
    [
        "",
        "# c",
        "'''",
        "\x00",
        "route = 5",
        "a = 5",
        "del a",
        "b = None",
        "async def c(s): return {}",
        "x1 = lambda s: {}",
        "class a: pass",
        "def START(s): return {}",
    ]
)
cells = st.lists(
    edge_lines() | def_lines | router_lines | junk | python_lines,
    max_size=8,
).map("\n".join)
magic_lines = st.one_of(
    st.just("g --state S"),
    st.builds(lambda j: f"g --state S {j}", junk),
    junk,
    st.sampled_from(['g --state "S', "g --state", "1g --state S", "--state S", "g --state Nope"]),
)
line_magic_args = st.one_of(
    junk,
    st.builds(
        lambda cmd, rest: f"{cmd} {rest}",
        st.sampled_from(["show", "run", "debug", "history", "trace", "stress", "list", "reset"]),
        st.sampled_from(
            [
                "g",
                "nope",
                "g --input '{'",
                "g --input 5",
                "g --thread t",
                "g --runs 0",
                "g --runs x",
                "g --break zz",
                "g --input '[1]'",
                "",
                "g --thread",
            ]
        )
        | junk,
    ),
)


WFKIT_DIR = str(Path(wfkit.__file__).parent)


def user_code_error(exc: BaseException) -> bool:
    """Raised by the cell's own Python: its innermost frame is the cell's code
    (compiled under IPython's name for the cell), not wfkit's."""
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and not frames[-1].filename.startswith(WFKIT_DIR)


@pytest.fixture(scope="module")
def ip(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    cwd = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("magics"))
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "wfkit")
    shell.run_cell(STATE)
    try:
        yield shell
    finally:
        shell.run_line_magic("unload_ext", "wfkit")
        InteractiveShell.clear_instance()
        os.chdir(cwd)


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(line=magic_lines, cell=cells)
def test_workflow_cells_work_or_raise_a_usage_error(ip: Any, line: str, cell: str) -> None:
    FIGURES["inputs tried: %%workflow cells"] += 1
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            ip.run_cell_magic("workflow", line, cell)
    except (UsageError, WfkitError):
        pass
    except Exception as exc:
        if not user_code_error(exc):
            raise


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(line=line_magic_args)
def test_workflow_line_magics_work_or_raise_a_usage_error(ip: Any, line: str) -> None:
    FIGURES["inputs tried: %workflow lines"] += 1
    with contextlib.redirect_stdout(io.StringIO()):
        ip.run_cell_magic(
            "workflow",
            "g --state S",
            "START -> a\na -> END\ndef a(state):\n    return {'log': ['a']}",
        )
        with contextlib.suppress(UsageError, WfkitError):
            ip.run_line_magic("workflow", line)


# ------------------------------------------------------------------ the CLI
MODULE = """
from typing import TypedDict
from wfkit import StateGraph, START, END
class S(TypedDict, total=False):
    n: int
graph = StateGraph(S)
graph.add_node("inc", lambda s: {"n": s.get("n", 0) + 1})
graph.add_edge(START, "inc").add_edge("inc", END)
app = graph.compile()
number = 5
"""


@pytest.fixture(scope="module")
def cli_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("cli")
    (folder / "fuzzmod.py").write_text(MODULE)
    (folder / "bad.json").write_bytes(b"\xff\xfe{")
    (folder / "ok.json").write_text('{"n": 1}')
    (folder / "notduck.duckdb").write_bytes(b"x" * 64)
    import duckdb

    duckdb.connect(str(folder / "other.duckdb")).execute("CREATE TABLE t (a INT)").close()
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        yield folder
    finally:
        os.chdir(cwd)


targets = (
    st.sampled_from(
        [
            "fuzzmod:app",
            "fuzzmod:graph",
            "fuzzmod:number",
            "fuzzmod:nope",
            "nomod:app",
            ":app",
            "fuzzmod:",
            ".fuzzmod:app",
            "fuzz..mod:app",
            "fuzzmod",
            "fuzzmod:app:x",
            "\x00:a",
        ]
    )
    | junk
)
inputs = (
    st.sampled_from(["@bad.json", "@", "{"])
    | st.sampled_from(
        [
            '{"n": 1}',
            "{",
            "[1]",
            "5",
            "null",
            "@ok.json",
            "@bad.json",
            "@missing.json",
            "@",
            '"\\ud800"',
            '{"n": "x"}',
        ]
    )
    | junk
)
files = (
    st.sampled_from(["notduck.duckdb", "other.duckdb", "missing.duckdb", ".", "fuzzmod.py"]) | junk
)
ints = st.sampled_from(["0", "-1", "1", "2", "x", "1e3", ""])


@st.composite
def argvs(draw: st.DrawFn) -> list[str]:
    command = draw(
        st.sampled_from(
            ["run", "stress", "trace summary", "trace draw", "trace compare", "trace runs", "bogus"]
        )
    )
    argv = command.split()
    if command in ("run", "stress"):
        argv.append(draw(targets))
        if draw(st.booleans()):
            argv += ["--input", draw(inputs)]
        if command == "run":
            if draw(st.booleans()):
                argv += ["--recursion-limit", draw(ints)]
            if draw(st.booleans()):
                argv += ["--thread", draw(junk)]
            if draw(st.booleans()):
                argv.append("--stream")
        else:
            argv += ["--runs", draw(ints), "--concurrency", draw(ints), "--quiet"]
            if draw(st.booleans()):
                argv += ["--compare", draw(files)]
    elif command.startswith("trace"):
        argv.append(draw(files))
        if command == "trace draw":
            argv += ["--output", draw(st.sampled_from(["out.svg", "out.xyz", "", "nodir/out.svg"]))]
        if command == "trace compare":
            argv += ["--runs", draw(junk), draw(junk)]
    argv += draw(st.lists(junk, max_size=2))
    return argv


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(argv=argvs())
def test_the_cli_works_or_exits_with_a_message(cli_dir: Path, argv: list[str]) -> None:
    FIGURES["inputs tried: wfkit command lines"] += 1
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(argv)
    except SystemExit as exc:  # argparse: usage line and exit status 2
        assert exc.code == 2, (argv, err.getvalue())
        return
    except Exception as exc:  # a node's own error ({"n": "x"}) is the user's traceback
        frames = traceback.extract_tb(exc.__traceback__)
        if not frames or not frames[-1].filename.endswith("fuzzmod.py"):
            raise
        return
    assert code in (0, 1, 2), argv
    if code:
        message = err.getvalue().strip()
        assert message.startswith("wfkit: ") and "Traceback" not in message, (argv, message)


# ------------------------------------------------------------------ what the fuzzing found
def test_an_unclosed_quote_on_the_cell_magic_line_is_a_usage_error(ip: Any) -> None:
    with pytest.raises(UsageError, match="No closing quotation"):
        ip.run_cell_magic("workflow", 'g --state "S', "START -> a")


def test_a_cell_that_deletes_its_own_node_function_is_not_runnable(ip: Any) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        ip.run_cell_magic("workflow", "gone --state S", "START -> f\ndef f(s): return {}\ndel f")
    with pytest.raises(UsageError, match="node 'f' is defined in a cell but no longer"):
        ip.run_line_magic("workflow", "run gone")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", ".fuzzmod:app"], "'.fuzzmod' is not a module name"),
        (["run", "fuzz..mod:app"], "'fuzz..mod' is not a module name"),
        (["run", "fuzzmod:app", "--input", "@bad.json"], "the file is not UTF-8 text"),
    ],
)
def test_cli_inputs_the_fuzzing_found(cli_dir: Path, argv: list[str], message: str) -> None:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert cli.main(argv) == 2
    assert message in err.getvalue()
