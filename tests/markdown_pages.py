"""The documentation pages as tests: every block that shows its output is run
and what it prints is compared with the page.

`conftest.py` at the repository root hands the pages (`docs/*.md`,
`README.md`) to Sybil with `PageParser`; each block becomes one pytest item.

A page block is a fenced ```` ```python ```` or ```` ```console ```` block;
the ```` ```text ```` block right after it (blank lines between) is its
expected output. Three kinds of run, chosen per block:

- **script** (the default): the block runs as a script in a fresh Python
  process, in a folder of the page's own. Files the page saves (below) are
  in that folder, so `from support_flow import graph` works.
- **kernel**: the block is a notebook cell, run in a real Jupyter kernel
  (ipykernel through jupyter_client) that is sent the cell's id the way
  JupyterLab sends it; graph pictures come back as `[drawing]`, widgets as
  `[widget]`.
- **console**: each `$ command` line runs in bash in the page's folder, and
  the lines under it are its output.

Directives, HTML comments on the line before a block (invisible on the site):

- `<!-- doc-test: save FILE -->`: write the block to FILE in the page's
  folder instead of running it.
- `<!-- doc-test: copy PAGE FILE -->`: before this block, write the block
  PAGE saves as FILE into this page's folder.
- `<!-- doc-test: continue -->`: a script block that goes on where the
  previous script block stopped (the same process and namespace).
- `<!-- doc-test: kernel NAME -->`: this block and those after it are cells
  of notebook NAME (`main` if no name is given): a kernel of its own, in a
  folder of its own, started on first use and kept to the end of the page,
  so a page can go back to an earlier notebook. `script` switches back.
- `<!-- doc-test: before CODE -->`: run the one-line CODE first, unseen (a
  cell the page describes in words).
- `<!-- doc-test: cell ID -->`: send ID as the cell's id (re-running a
  cell: give two blocks the same id).
- `<!-- doc-test: tail -->`: the page shows only the end of the output.
- `<!-- doc-test: close ABS -->`: the times are compared, not masked: each
  must be within ABS (in the printed unit) or 25 % of the page's figure
  (CPU times: a node that computes against one that waits).
- `<!-- doc-test: any-order -->`: the lines may come in any order (a table
  sorted by a figure that varies).
- `<!-- doc-test: ignore-lines PREFIX -->`: leave out the lines that start
  with PREFIX on both sides (a line that only some runs print).
- `<!-- doc-test: drop-log LOGGER -->`: leave out of the printed side the
  records (with their tracebacks) that the `logging` module's default
  format writes for LOGGER and the loggers below it (a library's own noise
  that only some runs print, such as Dask's shutdown race).
- `<!-- doc-test: any-numbers -->`: mask every number (counts that vary
  from run to run, such as how many of a stress test's runs failed).
- `<!-- doc-test: without-program NAME -->`: run the script with a `PATH`
  that has no NAME (to show what happens on a machine without Graphviz).
- `<!-- doc-test: set TEXT=COMMAND -->`: in a console block, replace TEXT
  (a run id the page shows) with what COMMAND prints in the page's folder.
- `<!-- doc-test: fragment -->`: a piece of code shown for its shape, not
  to be run (it is not a test at all).
- `<!-- doc-test: skip REASON -->`: do not run the block; the item is
  reported as skipped with REASON.

The blocks of a page depend on the blocks above them, so run whole pages
(`pytest docs/traces.md`), not single items.

Before comparing, both sides are masked: run and span ids, memory
addresses, absolute paths, numbers with a decimal point (times), long
integers (clock readings), dates; runs of spaces and table rules are
collapsed so that a column that got wider is not a difference. A line
`...` in the expected output stands for any number of lines.
"""

from __future__ import annotations

import html
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sybil import Document, Example, Region
from sybil.parsers.markdown.lexers import RawFencedCodeBlockLexer

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BASH = shutil.which("bash") or "/bin/bash"
TIMEOUT = 120

_DIRECTIVE = re.compile(r"^\s*<!--\s*doc-test:\s*(?P<args>.*?)\s*-->\s*$", re.MULTILINE)
_INFO = re.compile(r"(?P<language>[\w-]*)[^\n]*\n")


@dataclass(frozen=True, kw_only=True)
class Block:
    """One runnable block of a page and what the page says it prints."""

    language: str
    source: str
    expected: str | None
    directives: tuple[tuple[str, str], ...]
    line: int

    def has(self, name: str) -> bool:
        return any(d == name for d, _ in self.directives)

    def arg(self, name: str) -> str | None:
        return next((a for d, a in self.directives if d == name), None)


def _directives_before(text: str, start: int) -> tuple[tuple[str, str], ...]:
    """The doc-test comments on the lines right above position `start`."""
    found: list[tuple[str, str]] = []
    lines = text[:start].split("\n")[:-1]
    for line in reversed(lines):
        m = _DIRECTIVE.match(line)
        if not m:
            break
        name, _, arg = m.group("args").partition(" ")
        found.append((name, arg.strip()))
    return tuple(reversed(found))


def page_blocks(text: str) -> list[tuple[int, int, Block]]:
    """(start, end, block) for every python/console block of a page's text."""
    document = Document(text, "<page>")
    fences = list(RawFencedCodeBlockLexer(info_pattern=_INFO)(document))
    blocks = []
    for i, region in enumerate(fences):
        language = region.lexemes["language"]
        if language not in ("python", "console"):
            continue
        expected = None
        end = region.end
        if i + 1 < len(fences):
            nxt = fences[i + 1]
            between = text[region.end : nxt.start]
            if nxt.lexemes["language"] == "text" and not between.strip():
                expected = str(nxt.lexemes["source"])
                end = nxt.end
        directives = _directives_before(text, region.start)
        line = text.count("\n", 0, region.start) + 1
        block = Block(
            language=language,
            source=str(region.lexemes["source"]),
            expected=expected,
            directives=directives,
            line=line,
        )
        blocks.append((region.start, end, block))
    return blocks


def saved_file(page: str, name: str) -> str:
    """The source of the block that `page` saves as `name`."""
    text = (ROOT / "docs" / page).read_text()
    for _, _, block in page_blocks(text):
        if block.arg("save") == name:
            return block.source
    raise LookupError(f"{page} saves no {name}: add <!-- doc-test: save {name} --> above it")


# ---------------------------------------------------------------- masking

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_MASKS = [
    # run ids (`_ids.new_run_id`: a hex counter without leading zeros) and
    # checkpoint ids (a six-digit counter)
    (re.compile(r"\b[0-9a-f]{16}-[0-9a-f]{1,8}-(?:0|[1-9a-f][0-9a-f]{0,4}|[0-9a-f]{6})\b"), "<ID>"),
    (re.compile(r"\brun-[0-9a-f]{6,}\b"), "run-<ID>"),
    (re.compile(r"\b0x[0-9a-f]{6,}\b"), "0x<ADDR>"),
    (re.compile(r"\bPID \d+"), "PID <N>"),
    (re.compile(r"datetime\.datetime\([^)]*\)"), "<DATETIME>"),
    (re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?"), "<DATETIME>"),
    (re.compile(r"(?:/|…/)(?:[\w.@+-]+/)+(?=[\w.-]+)"), "<DIR>/"),
    (re.compile(r"(?<![\d.])\d{7,}(?![\d.])"), "<N>"),
]
_FLOAT = re.compile(r"\d[\d,]*\.\d+(e[+-]?\d+)?")
_RULES = re.compile(r"[─═━]{2,}|-{3,}")
_SPACES = re.compile(r"[ \t]+")


def normalise(
    text: str, *, any_numbers: bool = False, floats: list[float] | None = None
) -> list[str]:
    """The lines of `text` with what differs from run to run masked; the
    numbers with a decimal point go to `floats` when it is given."""
    text = _ANSI.sub("", text)
    for pattern, mask in _MASKS:
        text = pattern.sub(mask, text)
    if floats is not None:
        floats.extend(float(m.group().replace(",", "")) for m in _FLOAT.finditer(text))
    text = _FLOAT.sub("<F>", text)
    if any_numbers:
        text = re.sub(r"(?<![\w<])\d+(?![\w>])", "<N>", text)
    lines = []
    for line in text.splitlines():
        line = _SPACES.sub(" ", _RULES.sub("─", line)).strip()
        if line:
            lines.append(line)
    return lines


def matches(expected: list[str], actual: list[str], *, tail: bool = False) -> bool:
    """Whether `actual` matches `expected`, where a `...` line matches any lines."""
    pattern = "".join(
        r"(?:.*\n)*?" if line in ("...", "…") else re.escape(line) + r"\n" for line in expected
    )
    prefix = r"(?:.*\n)*?" if tail else ""
    return re.fullmatch(prefix + pattern, "".join(line + "\n" for line in actual)) is not None


# ---------------------------------------------------------------- running

_WORKER = textwrap.dedent(
    """
    import json, sys, traceback
    namespace = {"__name__": "__main__"}
    for line in sys.stdin:
        path = json.loads(line)
        try:
            code = compile(open(path).read(), path, "exec")
            exec(code, namespace)
        except SystemExit:
            pass
        except BaseException as exc:
            # the traceback as a script shows it: without this loop's frame
            traceback.print_exception(type(exc), exc, exc.__traceback__.tb_next)
        sys.stdout.flush(); sys.stderr.flush()
        print("\\x00done", flush=True)
    """
)


class ScriptSession:
    """A Python process that runs the pieces of one script in one namespace."""

    def __init__(self, folder: Path, *, without: str | None = None) -> None:
        self.folder = folder
        self.count = 0
        self.proc = subprocess.Popen(
            [PYTHON, "-u", "-c", _WORKER],
            cwd=folder,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=_env(folder, without=without),
        )

    def run(self, source: str) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.count += 1
        path = self.folder / f"_block{self.count}.py"
        path.write_text(source)
        self.proc.stdin.write(json.dumps(str(path)) + "\n")
        self.proc.stdin.flush()
        out = []
        for line in self.proc.stdout:
            if line.startswith("\x00done"):
                return "".join(out)
            out.append(line)
        return "".join(out) + f"\n[the script's process ended with {self.proc.wait()}]"

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


class KernelSession:
    """A Jupyter kernel that is sent cells the way JupyterLab sends them."""

    def __init__(self, folder: Path) -> None:
        from jupyter_client.manager import KernelManager

        self.folder = folder
        self.manager = KernelManager(kernel_name="python3")
        self.manager.start_kernel(cwd=str(folder), env=_env(folder))
        self.client = self.manager.blocking_client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def run(self, source: str, cell_id: str) -> str:
        content = {
            "code": source,
            "silent": False,
            "store_history": True,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": False,
        }
        msg = self.client.session.msg("execute_request", content, metadata={"cellId": cell_id})
        self.client.shell_channel.send(msg)
        parent = msg["header"]["msg_id"]
        parts: list[str] = []
        while True:
            try:
                reply = self.client.get_iopub_msg(timeout=TIMEOUT)
            except queue.Empty:
                parts.append(f"[no answer from the kernel in {TIMEOUT} s]")
                break
            if reply["parent_header"].get("msg_id") != parent:
                continue
            kind, body = reply["msg_type"], reply["content"]
            if kind == "status" and body["execution_state"] == "idle":
                break
            if kind == "stream":
                parts.append(body["text"])
            elif kind in ("execute_result", "display_data"):
                parts.append(_render(body["data"]))
            elif kind == "error":
                parts.append("\n".join(body["traceback"]))
        self.client.get_shell_msg(timeout=TIMEOUT)
        return "\n".join(p.rstrip("\n") for p in parts)

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


def _render(data: dict[str, Any]) -> str:
    if "application/vnd.jupyter.widget-view+json" in data:
        return "[widget]"
    if "image/svg+xml" in data or "image/png" in data:
        return "[drawing]"
    text = str(data.get("text/plain", ""))
    if "text/html" in data and text.startswith("<IPython.core.display.HTML"):
        # what JupyterLab shows of an HTML output, as text
        return html.unescape(re.sub(r"<[^>]+>", "", str(data["text/html"])))
    return text


def _env(folder: Path, *, without: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    # the folder first (the page's modules), then this tree's wfkit and examples
    env["PYTHONPATH"] = os.pathsep.join([str(folder), str(ROOT), env.get("PYTHONPATH", "")])
    path = [str(Path(PYTHON).parent), *env.get("PATH", "").split(os.pathsep)]
    if without:  # a machine that lacks this program
        path = [d for d in path if not (Path(d) / without).exists()]
    env["PATH"] = os.pathsep.join(path)
    env["PYTHONHASHSEED"] = "0"  # sets print in the same order on every run
    env.pop("JPY_PARENT_PID", None)
    return env


def run_console(source: str, folder: Path, *, without: str | None = None) -> list[tuple[str, str]]:
    """(command, what it printed) for each `$ ` line of a console block."""
    results = []
    for line in source.splitlines():
        if not line.startswith("$ "):
            continue
        command = line[2:]
        done = subprocess.run(
            [BASH, "-c", command],
            cwd=folder,
            env=_env(folder, without=without),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        results.append((command, done.stdout + done.stderr))
    return results


def console_expected(source: str) -> list[tuple[str, str]]:
    """(command, the lines the page shows under it) for a console block."""
    pairs: list[tuple[str, list[str]]] = []
    for line in source.splitlines():
        if line.startswith("$ "):
            pairs.append((line[2:], []))
        elif pairs:
            pairs[-1][1].append(line)
    return [(cmd, "\n".join(lines)) for cmd, lines in pairs]


# ---------------------------------------------------------------- the page


@dataclass
class PageState:
    """What one page's blocks share: its folder, its script and its kernel."""

    page: Path
    folder: Path
    mode: str = "script"
    script: ScriptSession | None = None
    kernel: str = "main"
    kernels: dict[str, KernelSession] = field(default_factory=dict)

    def notebook(self) -> KernelSession:
        """The kernel of the current notebook, started on first use."""
        if self.kernel not in self.kernels:
            folder = self.folder / self.kernel
            folder.mkdir()
            self.kernels[self.kernel] = KernelSession(folder)
        return self.kernels[self.kernel]

    def close(self) -> None:
        if self.script is not None:
            self.script.close()
        for kernel in self.kernels.values():
            kernel.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def setup_page(namespace: dict[str, Any]) -> None:
    folder = Path(tempfile.mkdtemp(prefix="wfkit-docs-"))
    # the pages save their pictures to docs/img/; `make pictures` points that
    # at the repository's docs/img, otherwise they go to a scratch folder
    pictures = os.environ.get("WFKIT_DOCS_PICTURES")
    (folder / "docs").mkdir()
    if pictures:
        (folder / "docs" / "img").symlink_to(Path(pictures).resolve())
    else:
        (folder / "docs" / "img").mkdir()
    namespace["page"] = PageState(page=Path(namespace.get("__file__", "")), folder=folder)


def teardown_page(namespace: dict[str, Any]) -> None:
    namespace["page"].close()


def evaluate(example: Example) -> str | None:
    block: Block = example.parsed
    state: PageState = example.namespace["page"]
    for name, arg in block.directives:
        if name == "copy":
            page, _, file = arg.partition(" ")
            (state.folder / file).write_text(saved_file(page, file))
        elif name == "kernel":
            state.mode = "kernel"
            state.kernel = arg or "main"
        elif name == "script":
            state.mode = "script"
    reason = block.arg("skip")
    if reason is not None:
        pytest.skip(reason or "skipped on the page")
    if block.arg("save") is not None:
        (state.folder / block.arg("save")).write_text(block.source)  # type: ignore[operator]
        return None
    if block.language == "console":
        return _check_console(block, state)
    if state.mode == "kernel":
        kernel = state.notebook()
        for name, arg in block.directives:
            if name == "before":
                kernel.run(arg, uuid.uuid4().hex)
        cell_id = block.arg("cell") or uuid.uuid4().hex
        actual = kernel.run(block.source, cell_id)
    else:
        if state.script is None or not block.has("continue"):
            if state.script is not None:
                state.script.close()
            state.script = ScriptSession(state.folder, without=block.arg("without-program"))
        actual = state.script.run(block.source)
    if block.expected is None:
        if "Traceback (most recent call last)" in actual or re.search(
            r"^(SyntaxError|IndentationError): ", actual, re.MULTILINE
        ):
            return f"the block at line {block.line} shows no output, but it raised:\n{actual}"
        return None
    return _compare(block, block.expected, actual)


_LOG_HEADER = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} - {logger}(?:\.[\w.]+)? - [A-Z]+ - .*\n"
# a record's traceback: indented frames, the chaining lines, the exception lines
_LOG_TAIL = r"(?:(?:[ \t].*|Traceback .*|The above exception.*|During handling.*|[\w.]+(?:Error|Exception)\b.*|)\n)*"


def drop_log(text: str, logger: str) -> str:
    """`text` without the `logging` records of `logger` (and the loggers below it)."""
    header = _LOG_HEADER.replace("{logger}", re.escape(logger))
    return re.sub(header + _LOG_TAIL, "", text if text.endswith("\n") else text + "\n", flags=re.M)


def _compare(block: Block, expected: str, actual: str) -> str | None:
    for name, logger in block.directives:
        if name == "drop-log":
            actual = drop_log(actual, logger)
    any_numbers = block.has("any-numbers")
    want_f: list[float] = []
    got_f: list[float] = []
    want = normalise(expected, any_numbers=any_numbers, floats=want_f)
    got = normalise(actual, any_numbers=any_numbers, floats=got_f)
    for name, prefix in block.directives:
        if name == "ignore-lines":
            want = [line for line in want if not line.startswith(prefix)]
            got = [line for line in got if not line.startswith(prefix)]
    if block.has("any-order"):
        # as multisets; a `...` line lets the output have lines the page leaves out
        extra = Counter(got) - Counter(w for w in want if w not in ("...", "…"))
        missing = Counter(w for w in want if w not in ("...", "…")) - Counter(got)
        same = not missing and (not extra or "..." in want or "…" in want)
    else:
        same = matches(want, got, tail=block.has("tail"))
    tolerance = block.arg("close")
    if same and tolerance is not None:
        far = [
            (w, g)
            for w, g in zip(want_f, got_f, strict=True)
            if abs(w - g) > max(float(tolerance), 0.25 * abs(w))
        ]
        if far:
            return (
                f"the block at line {block.line} printed figures far from the page's "
                f"(more than {tolerance} or 25 %): "
                + ", ".join(f"{g:g} where the page shows {w:g}" for w, g in far)
                + f"\n--- it printed:\n{actual.rstrip()}"
            )
    if same:
        return None
    return (
        f"the block at line {block.line} printed something else than the page shows\n"
        f"--- the page shows:\n{expected.rstrip()}\n--- it printed:\n{actual.rstrip()}\n"
        f"--- (compared after masking; -- page, ++ printed)\n"
        + "\n".join(f"-- {w}" for w in want if w not in got)
        + "\n"
        + "\n".join(f"++ {g}" for g in got if g not in want)
    )


def _check_console(block: Block, state: PageState) -> str | None:
    if not any(expected.strip() for _, expected in console_expected(block.source)):
        return None  # an instruction (`$ make test`), not an example
    source = block.source
    for name, arg in block.directives:
        if name == "set":
            text, _, command = arg.partition("=")
            value = subprocess.run(
                [BASH, "-c", command],
                cwd=state.folder,
                env=_env(state.folder),
                capture_output=True,
                text=True,
                timeout=TIMEOUT,
                check=True,
            ).stdout.strip()
            source = source.replace(text, value)
    problems = []
    printed_all = run_console(source, state.folder, without=block.arg("without-program"))
    for (command, expected), (_, printed) in zip(
        console_expected(source), printed_all, strict=True
    ):
        problem = _compare(block, expected, printed) if expected.strip() else None
        if problem:
            problems.append(f"$ {command}\n{problem}")
    return "\n\n".join(problems) or None


class PageParser:
    """Sybil parser: one region per runnable block of a Markdown page."""

    def __call__(self, document: Document) -> list[Region]:
        return [
            Region(start, end, block, evaluate)
            for start, end, block in page_blocks(document.text)
            if not block.has("fragment")
        ]
