"""Shared output helpers: JSON on stdout's last line, human output on stderr."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console

#: human-readable output goes to stderr so that stdout's last line stays machine-readable JSON
console = Console(stderr=True)


def emit_json(payload: Any) -> None:
    print(json.dumps(payload, ensure_ascii=False, default=str, sort_keys=False))
