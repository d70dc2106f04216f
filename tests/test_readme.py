"""The README stays within its length and within the repository: no link or path that leaves it."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_is_short_and_points_nowhere_outside_the_repository() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 300
    assert re.findall(r"\.\./[\w./-]*", text) == []  # ../shared/... is outside a clone


def test_the_shared_folder_can_be_named_by_pymescore_shared_dir(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    code = "from bench._datasets import DEFAULT_DATASETS_DIR; print(DEFAULT_DATASETS_DIR)"
    env = {**os.environ, "PYMESCORE_SHARED_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True,
                          cwd=README.parent)  # fmt: skip
    assert done.stdout.strip() == str(tmp_path / "datasets")
