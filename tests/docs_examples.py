"""The guides' commands as a test runs them (tests/test_docs_guides.py).

Every ```` ```bash ```` or ```` ```python ```` fence in ``docs/`` is preceded by a marker that says what the
test does with it (a fence without one fails the test, so nothing goes unchecked by accident):

- ``<!-- docs-test -->``: run it, in order with the page's other blocks, in one bash session per page;
- ``<!-- docs-test: background -->``: start it in the background (a server) and wait until
  ``http://127.0.0.1:8000/readyz`` answers; it is stopped when the page is done;
- ``<!-- docs-test: skip REASON -->``: not run, for the REASON stated (a browser, a server left running, a
  production database).

The test makes two substitutions, and no others: port 8000 becomes a free port (tests run side by side), and
``python`` is the project's environment's interpreter (first on ``PATH``, with ``pymescore``). The working folder
is a copy of the one Getting started builds, with ``../deploy`` pointing at the repository's, as in a clone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"
MARKER = re.compile(r"^<!--\s*docs-test(?::\s*(?P<mode>background|skip)(?P<reason>[^>]*))?\s*-->\s*$")
FENCE = re.compile(r"^```(?P<lang>[\w-]*)\s*$")
RUN_LANGS = ("bash", "python")


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    lang: str
    mode: str  # run, background or skip
    reason: str
    code: str


def blocks(page: Path) -> list[Block]:
    """The runnable-language fences of ``page`` with their markers; a fence without a marker has mode ``""``."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening or not opening.group("lang"):
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        lang = opening.group("lang")
        if lang in RUN_LANGS:
            before = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
            marker = MARKER.match(before.strip())
            mode = "" if marker is None else (marker.group("mode") or "run")
            reason = "" if marker is None else (marker.group("reason") or "").strip()
            found.append(Block(str(page.relative_to(DOCS)), i + 1, lang, mode, reason, "\n".join(lines[i + 1 : end])))
        i = end + 1
    return found


def script(page_blocks: list[Block], port: int) -> str:
    """One bash script for a page: each block in order, servers in the background, all stopped at the end."""
    parts = [
        "set -euo pipefail",
        "pids=()",
        # a server runs in its own process group (setsid), so that stopping it stops its workers too
        'cleanup() { for p in "${pids[@]:-}"; do [ -n "$p" ] && kill -- "-$p" 2>/dev/null || true; done; wait; }',
        "trap cleanup EXIT",
    ]
    for block in page_blocks:
        code = block.code.replace("8000", str(port))
        parts.append(f"echo '>>> {block.page}:{block.line}' >&2")
        if block.mode == "skip":
            continue
        if block.lang == "python":
            parts.append(f"python - <<'PYMESCORE_DOCS_EOF'\n{code}\nPYMESCORE_DOCS_EOF")
        elif block.mode == "background":
            parts += [
                f"cat > server-{block.line}.sh <<'PYMESCORE_DOCS_EOF'\n{code}\nPYMESCORE_DOCS_EOF",
                f"setsid bash server-{block.line}.sh > server-{block.line}.log 2>&1 &",
                "pids+=($!)",
                f"for _ in $(seq 1 240); do curl -sf http://127.0.0.1:{port}/readyz >/dev/null && break; "
                f"kill -0 ${{pids[-1]}} 2>/dev/null || {{ cat server-{block.line}.log >&2; exit 1; }}; sleep 0.5; done",
                f"curl -sf http://127.0.0.1:{port}/readyz >/dev/null || {{ cat server-{block.line}.log >&2; exit 1; }}",
            ]
        else:
            parts.append(code)
    return "\n".join(parts) + "\n"
