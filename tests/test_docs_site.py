"""``mkdocs build --strict`` passes (a broken link, a missing page or a reference that does not resolve fails it;
this is how CI builds the site), every public Python name and CLI command lands in the built pages, and the built
site fetches nothing from the internet at view time (no CDN, no web fonts: a bank's network may be air-gapped)."""

from __future__ import annotations

import importlib
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from docsgen import cli_ref, python_ref

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)], cwd=ROOT,
                          capture_output=True, text=True, env=env, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    return out


def test_every_public_name_is_rendered_with_its_anchor(site: Path) -> None:
    for module in python_ref.public_modules():
        html = (site / "reference" / "python" / f"{module}.html").read_text(encoding="utf-8")
        imported = importlib.import_module(module)
        names = getattr(imported, "__all__", None) or [
            n for n, v in vars(imported).items()
            if not n.startswith("_") and (inspect.isclass(v) or inspect.isfunction(v)) and v.__module__ == module
        ]  # fmt: skip
        missing = [n for n in names if not n.startswith("__") and f'id="{module}.{n}"' not in html]
        assert missing == [], f"{module}: not rendered: {missing}"


def test_every_cli_command_has_its_section_in_the_built_page(site: Path) -> None:
    html = (site / "reference" / "cli.html").read_text(encoding="utf-8")
    for path in cli_ref.command_paths():
        assert f'id="{path.replace(" ", "-")}"' in html, path


def test_the_built_site_loads_nothing_from_another_host(site: Path) -> None:
    pages = list(site.rglob("*.html"))
    assert len(pages) > 40
    for page in pages:
        html = page.read_text(encoding="utf-8")
        # what a browser fetches by itself: scripts, stylesheets, images, fonts, frames (links are only followed)
        fetched = re.findall(r"<(?:script|img|iframe|source)[^>]*\bsrc=\"([^\"]+)\"", html)
        fetched += re.findall(
            r"<link[^>]*\brel=\"(?:stylesheet|preload|icon|modulepreload)\"[^>]*href=\"([^\"]+)\"", html
        )
        remote = [u for u in fetched if re.match(r"^(https?:)?//", u)]
        assert remote == [], f"{page.relative_to(site)} fetches {remote}"
        assert "fonts.googleapis" not in html
        assert "fonts.gstatic" not in html
    for css in site.rglob("*.css"):
        assert not re.search(r"@import\s+url\(['\"]?https?:", css.read_text(encoding="utf-8")), css


def test_the_existing_pages_and_screenshots_are_in_the_site(site: Path) -> None:
    for name in ("dashboard", "exchange-rates", "lineage", "monitoring", "shadow", "sources-api"):
        assert (site / f"{name}.html").is_file()
    assert (site / "screenshots" / "03-resultado.png").is_file()
    assert (site / "reference" / "openapi.json").is_file()


def test_the_model_families_page_lists_the_registry_as_built(site: Path) -> None:
    from pymescore.model._families import FAMILIES

    html = (site / "model-families.html").read_text(encoding="utf-8")
    assert "generated: model-families" not in html  # the marker was replaced by the table
    for family in FAMILIES.values():
        assert f"<code>{family.name}</code>" in html, family.name
