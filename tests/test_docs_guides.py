"""The guides' commands run, so the docs cannot rot (issue 25): each page's marked blocks (tests/docs_examples.py)
run in one bash session, in a copy of the folder the getting-started page builds (a small simulated lake, a
snapshot, a signed bundle registered as champion), with the project's environment first on ``PATH``."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docs_examples import DOCS, blocks, script

ROOT = DOCS.parent
PAGES = sorted(p for p in DOCS.rglob("*.md"))
RUNNABLE = [p for p in PAGES if p.name != "getting-started.md" and any(b.mode != "skip" for b in blocks(p))]


def test_every_shell_and_python_fence_says_whether_it_runs() -> None:
    unmarked, unexplained = [], []
    for page in PAGES:
        for block in blocks(page):
            if not block.mode:
                unmarked.append(f"{block.page}:{block.line}")
            elif block.mode == "skip" and len(block.reason) < 10:
                unexplained.append(f"{block.page}:{block.line}")
    assert unmarked == [], f"fences without <!-- docs-test... --> before them: {unmarked}"
    assert unexplained == [], f"skipped fences without a reason: {unexplained}"
    guides = [p.name for p in RUNNABLE if p.parent.name == "guides"]
    assert len(guides) >= 6, guides  # every guide but the browser-only ones runs something


def test_every_screenshot_the_docs_show_is_one_a_test_takes() -> None:
    """The pictures show the current product: each one the pages embed is written by a browser test (its name is
    in a test that photographs into ``$PYMESCORE_SCREENSHOTS``), never drawn or captured by hand."""
    import re

    tests_text = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests").glob("test_*.py"))
    shown = {m for page in PAGES for m in re.findall(r"screenshots/([\w.-]+)\.png", page.read_text(encoding="utf-8"))}
    assert {"03-resultado", "06-bandeja", "report", "monitoring", "portfolio"} <= shown
    for name in sorted(shown):
        assert (DOCS / "screenshots" / f"{name}.png").is_file(), name
        assert f'"{name}.png"' in tests_text or f'"{name}")' in tests_text, f"no test photographs {name}.png"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(page: Path, folder: Path) -> None:
    code = script(blocks(page), _free_port())
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYMESCORE_") or k.startswith("PYMESCORE_TEST")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    done = subprocess.run(["bash", "-c", code], cwd=folder, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, (
        f"{page.relative_to(DOCS)}: exit {done.returncode}\n--- stdout\n{done.stdout[-4000:]}\n"
        f"--- stderr\n{done.stderr[-8000:]}"
    )


@pytest.fixture(scope="session")
def started(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("getting-started")
    _run(DOCS / "getting-started.md", folder)
    return folder


@pytest.mark.slow
def test_the_getting_started_page_builds_the_folder_the_guides_use(started: Path) -> None:
    for made in ("lake", "snapshot.parquet", "bundle/manifest.json", "bundle/model_card.md", "mlflow.db"):
        assert (started / made).exists(), made


@pytest.mark.slow
@pytest.mark.parametrize("page", RUNNABLE, ids=[str(p.relative_to(DOCS)) for p in RUNNABLE])
def test_a_guide_runs_as_written(page: Path, started: Path, tmp_path: Path) -> None:
    text = "\n".join(b.code for b in blocks(page) if b.mode != "skip")
    missing = [tool for tool in ("promtool", "curl") if tool in text and shutil.which(tool) is None]
    if missing:  # CI installs them (make ops-deps: promtool), and there a skip fails the run
        pytest.skip(f"{page.name} runs {', '.join(missing)}, not installed here: make ops-deps / apt-get install curl")
    folder = tmp_path / "work"
    shutil.copytree(started, folder, symlinks=True)
    (tmp_path / "deploy").symlink_to(ROOT / "deploy")  # the working folder sits in a clone: ../deploy is there
    _run(page, folder)
