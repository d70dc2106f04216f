"""Writing an output file whole or not at all: a temporary file beside it, renamed into place."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path


def write_atomic(path: Path, write: Callable[[Path], object]) -> Path:
    """``write`` a temporary file in ``path``'s folder (created if missing), then rename it to ``path``.

    A failure at any point (a full disk, a killed process before the rename) leaves no half-written
    ``path``: the old file, if any, stays as it was and the temporary file is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
