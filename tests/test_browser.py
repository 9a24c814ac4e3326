"""The debugger in a real browser: JupyterLab and Notebook 7, each in
Chromium driven by Playwright. Builds a graph with %%workflow, opens the
debugger, sets a breakpoint by clicking a node of the drawing (which also
picks the node in the Node tab), steps to an
interrupt, answers it with Enter, stops at the breakpoint, clears it with
a second click, and checks the final state on the page. Screenshots
go to tests/artifacts/ (and to docs/img/ with WFKIT_DOC_SCREENSHOTS=1)."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]

CELLS = [
    "%load_ext wfkit",
    "import operator\nfrom typing import Annotated, TypedDict\nfrom wfkit import interrupt\n\n"
    "class Post(TypedDict, total=False):\n    topic: str\n    draft: str\n    approved: str\n"
    "    log: Annotated[list[str], operator.add]",
    "%%workflow blog --state Post --checkpoints blog.duckdb\n"
    "START -> write\nwrite -> review\nreview -> publish\npublish -> END\n\n"
    "def write(state):\n    return {'draft': 'A post about ' + state['topic'], 'log': ['write']}\n\n"
    "def review(state):\n    return {'approved': interrupt('Publish this draft?'), 'log': ['review']}\n\n"
    "def publish(state):\n    return {'log': ['published (' + state['approved'] + ')']}",
    '%workflow debug blog --input \'{"topic": "wfkit"}\'',
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


FRONT_ENDS = {
    "lab": (
        "lab",
        "/lab/tree/debug.ipynb",
        ["--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
    ),
    "notebook7": ("notebook", "/notebooks/debug.ipynb", []),
}


@pytest.fixture(params=list(FRONT_ENDS))
def lab(request: Any, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A Jupyter server of one front end (JupyterLab or Notebook 7) on a
    notebook of CELLS; yields the notebook's URL. The server and its kernel
    are stopped (by their own process) when the test ends."""
    app, page_path, extra = FRONT_ENDS[request.param]
    nb = new_notebook(
        cells=[new_code_cell(c) for c in CELLS],
        metadata={
            "kernelspec": {
                "display_name": "Python 3 (ipykernel)",
                "language": "python",
                "name": "python3",
            }
        },
    )
    nbformat.write(nb, tmp_path / "debug.ipynb")
    port, token = free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(tmp_path / ".jupyter"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / ".runtime"),
    }
    log = (tmp_path / "lab.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter",
            app,
            "--no-browser",
            "--ip",
            "127.0.0.1",
            f"--port={port}",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={tmp_path}",
            "--allow-root",
            *extra,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2
                )
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        f"jupyter {app} did not start:\n" + (tmp_path / "lab.log").read_text()
                    ) from None
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}{page_path}?token={token}", tmp_path
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def shot(page: object, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))  # type: ignore[attr-defined]
    if os.environ.get("WFKIT_DOC_SCREENSHOTS") == "1":
        shutil.copy(ARTIFACTS / name, ROOT / "docs" / "img" / name)


def run_cell(page: Any, i: int) -> None:
    """Click into cell ``i`` and run it with Shift+Enter; a first keypress can
    be lost while a fresh kernel is still starting, so try again then."""
    from playwright.sync_api import expect

    cell = page.locator(".jp-Notebook .jp-Cell").nth(i)
    prompt = cell.locator(".jp-InputPrompt")
    for attempt in range(3):
        cell.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        try:
            expect(prompt).to_have_text(
                re.compile(r"\[\d+\]:"), timeout=60_000 if attempt else 30_000
            )
            return
        except AssertionError:
            if attempt == 2:
                raise


def kernel_idle(url: str, timeout_s: float = 90) -> None:
    """Wait until the notebook's kernel exists and is idle (asked of the
    server's REST API, which both front ends share)."""
    base, token = url.split("/", 3)[:3], url.rsplit("token=", 1)[1]
    root = "/".join(base)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{root}/api/kernels?token={token}", timeout=5) as r:
            kernels = json.loads(r.read())
        if kernels and all(k["execution_state"] == "idle" for k in kernels):
            return
        time.sleep(0.5)
    raise AssertionError(f"no idle kernel after {timeout_s} s: {kernels}")


@pytest.mark.browser
def test_debugger_widget_in_jupyterlab_and_notebook7(request: Any, lab: tuple[str, Path]) -> None:
    from playwright.sync_api import expect, sync_playwright

    front_end = request.node.callspec.params["lab"]
    prefix = "" if front_end == "lab" else "notebook7-"
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    assert Path(chromium).exists(), (
        "Chromium is missing: `make test` installs it (apt-get install chromium)"
    )
    url, _ = lab
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS, headless=True)
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        try:
            page.goto(url)
            page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=90_000)
            kernel_idle(url)
            page.wait_for_timeout(1000)
            news = page.get_by_role("button", name="No", exact=True)
            if news.count() and news.first.is_visible():
                news.first.click()  # JupyterLab's "notify about news?" toast hides the widget
            for i in range(len(CELLS)):
                run_cell(page, i)
            step = page.get_by_role("button", name="Step", exact=True)
            step.wait_for(timeout=int(os.environ.get("WFKIT_BROWSER_TIMEOUT_MS", "90000")))
            expect(page.get_by_text("ready · next: write")).to_be_visible(timeout=30_000)
            # the breakpoint list's label is whole, not cut to "Break bef…"
            label = page.locator(".widget-select-multiple label").first
            expect(label).to_have_text("Break before")
            assert label.evaluate("e => e.scrollWidth <= e.clientWidth"), "label is cut"
            page.get_by_text("Debugging").first.evaluate("e => e.scrollIntoView({block: 'start'})")
            shot(page, f"{prefix}debugger-open.png")
            # click-to-break: a click on publish in the drawing sets its breakpoint
            publish = page.locator(".wfkit-graph g.node[data-node='publish']")
            publish.click()
            expect(page.locator(".wfkit-graph text", has_text="● publish")).to_be_visible(
                timeout=30_000
            )
            picker = page.locator(".widget-select-multiple select").first
            expect(picker).to_have_values(["publish"])  # the list shows it too
            # and the click picked the node in the Node tab
            tabs = page.locator(".widget-tab .lm-TabBar-tab")
            tabs.filter(has_text="Node").first.click()
            expect(page.locator(".widget-dropdown select").first).to_have_value("publish")
            expect(page.get_by_text("publish has not run on this thread")).to_be_visible()
            tabs.filter(has_text="State").first.click()
            expect(
                page.locator(".wfkit-graph g.node[data-node='write'] path").first
            ).to_have_attribute("fill", "#fff3bf")  # next stays marked
            for _ in range(4):
                if page.get_by_text("waiting for an answer").first.is_visible():
                    break
                step.click()
                page.wait_for_timeout(800)
            expect(page.get_by_text("waiting for an answer").first).to_be_visible(timeout=30_000)
            expect(page.get_by_text("Publish this draft?").first).to_be_visible()
            shot(page, f"{prefix}debugger-interrupt.png")
            answer = page.get_by_placeholder("your answer (JSON or text)")
            answer.fill("yes")
            answer.press("Enter")  # Enter answers, as Resume does
            expect(page.get_by_text("ready · next: publish")).to_be_visible(timeout=30_000)
            expect(answer).to_have_value("")
            continue_ = page.get_by_role("button", name="Continue", exact=True)
            continue_.click()
            expect(page.get_by_text("before publish").first).to_be_visible(timeout=30_000)
            publish.click()  # a second click removes the breakpoint
            expect(page.locator(".wfkit-graph text", has_text="● publish")).to_have_count(
                0, timeout=30_000
            )
            continue_.click()
            expect(page.get_by_text("finished").first).to_be_visible(timeout=30_000)
            expect(page.get_by_text("published (yes)").first).to_be_visible()
            expect(
                page.locator(".wfkit-graph g.node[data-node='publish'] path").first
            ).to_have_attribute("fill", "#d3f9d8")  # the last node to run is green
            shot(page, f"{prefix}debugger-finished.png")
            page.locator(".jp-Cell").nth(2).scroll_into_view_if_needed()
            shot(page, f"{prefix}magics-graph.png")
        except Exception:
            shot(page, f"{prefix}failure.png")
            print(
                "buttons on the page:",
                [t.strip() for t in page.locator("button").all_inner_texts() if t.strip()],
            )
            raise
        finally:
            browser.close()
