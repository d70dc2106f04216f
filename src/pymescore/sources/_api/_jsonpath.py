"""The JSON paths of the mapping: ``$`` then ``.name``, ``['name']`` or ``[index]`` steps.

A deliberately small subset of JSONPath (RFC 9535): one value per path, no wildcards or filters, which is
what a field mapping needs. A path whose step is missing reads as :data:`MISSING`.

>>> read({"amount": {"value": 12.5}}, "$.amount.value")
12.5
>>> read({"items": [{"id": "a"}]}, "$.items[0]['id']")
'a'
>>> read({}, "$.nothing") is MISSING
True
"""

from __future__ import annotations

import functools
import re
from typing import Any

from pymescore.errors import ConfigError, InputError

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING", "__bool__": lambda self: False})()

_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_\-]*)|\['([^']*)'\]|\[(-?\d+)\]")


@functools.lru_cache(maxsize=512)
def compile_path(path: str) -> tuple[str | int, ...]:
    """The steps of ``path``; a malformed path is a configuration error."""
    if not path.startswith("$"):
        raise ConfigError(f"JSON path {path!r}: expected it to start with '$', got {path[:1]!r}")
    steps: list[str | int] = []
    pos = 1
    while pos < len(path):
        m = _STEP.match(path, pos)
        if m is None:
            raise ConfigError(
                f"JSON path {path!r}: expected .name, ['name'] or [index] at position {pos}, "
                f"got {path[pos : pos + 10]!r}"
            )
        name, quoted, index = m.groups()
        steps.append(int(index) if index is not None else (name if name is not None else quoted))
        pos = m.end()
    return tuple(steps)


def check_path(path: str) -> str:
    """``path`` when it compiles (pydantic validators return it)."""
    try:
        compile_path(path)
    except ConfigError as exc:
        raise InputError(exc.message) from None
    return path


def read(document: Any, path: str) -> Any:
    """The value at ``path`` in ``document``, or :data:`MISSING`."""
    value = document
    for step in compile_path(path):
        if isinstance(step, int):
            if not isinstance(value, list) or not -len(value) <= step < len(value):
                return MISSING
            value = value[step]
        else:
            if not isinstance(value, dict) or step not in value:
                return MISSING
            value = value[step]
    return value
