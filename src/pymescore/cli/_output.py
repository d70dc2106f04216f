"""Shared output helpers: JSON on stdout's last line, human output on stderr."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

#: human-readable output goes to stderr so that stdout's last line stays machine-readable JSON;
#: when stderr is not a terminal (CI logs, make), tables get room instead of rich's 80 columns
console = Console(stderr=True, width=None if sys.stderr.isatty() else 130)


def emit_json(payload: Any) -> None:
    print(json.dumps(payload, ensure_ascii=False, default=str, sort_keys=False))
