"""MkDocs hooks (``mkdocs.yml``: ``hooks``): add the generated reference pages to the build and the Python API's
module pages to the navigation. mkdocs loads this file by path, so the repository root is put on ``sys.path``
for ``docsgen`` (and ``src`` for ``pymescore`` when it is not installed)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for entry in (ROOT, ROOT / "src"):
    if str(entry) not in sys.path:
        sys.path.append(str(entry))

from docsgen._pages import python_nav, reference_pages  # noqa: E402

_PAGES: dict[str, str] = {}


def on_config(config: Any) -> Any:
    """Replace the navigation's ``Python API`` entry by the index and one page per public module."""

    def expand(items: list[Any]) -> list[Any]:
        out = []
        for item in items:
            if isinstance(item, dict):
                ((title, value),) = item.items()
                if value == "reference/python/index.md":
                    item = {title: python_nav()}
                elif isinstance(value, list):
                    item = {title: expand(value)}
            out.append(item)
        return out

    config["nav"] = expand(config["nav"])
    return config


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    _PAGES.clear()
    _PAGES.update(reference_pages())
    for path, content in _PAGES.items():
        files.append(File.generated(config, path, content=content))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Replace each ``<!-- generated: NAME -->`` marker of a hand-written page by its table from the code."""
    from docsgen.files_ref import GENERATED_BLOCKS

    lines = markdown.split("\n")
    for k, line in enumerate(lines):  # a marker alone on its line (one quoted in a sentence stays as it is)
        if line.strip() in GENERATED_BLOCKS:
            lines[k] = GENERATED_BLOCKS[line.strip()]()
    return "\n".join(lines)
