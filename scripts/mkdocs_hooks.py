"""mkdocs hooks: put the tutorials of notebooks/ on the site.

The notebooks live outside docs/, and mkdocs-jupyter runs each one in its
own folder, where a tutorial writes its checkpoint file. So the build
copies them to a scratch folder and adds them from there as
`notebooks/NAME.ipynb`: the run leaves nothing in the repository's
notebooks/ (and does not fight a running `make lab` over its files).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
_scratch: list[Path] = []


@event_priority(100)  # before mkdocs-jupyter turns .ipynb files into pages
def on_files(files: Files, config: Any) -> Files:
    scratch = Path(tempfile.mkdtemp(prefix="wfkit-site-"))
    _scratch.append(scratch)
    (scratch / "notebooks").mkdir()
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        shutil.copy(notebook, scratch / "notebooks" / notebook.name)
        files.append(
            File(
                f"notebooks/{notebook.name}",
                src_dir=str(scratch),
                dest_dir=config["site_dir"],
                use_directory_urls=config["use_directory_urls"],
            )
        )
    return files


def on_post_build(config: Any) -> None:
    while _scratch:
        shutil.rmtree(_scratch.pop(), ignore_errors=True)
