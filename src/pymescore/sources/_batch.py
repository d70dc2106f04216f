"""What a reader hands to ingestion: the rows read, where they came from, and lines it could not parse."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd


@dataclass(frozen=True)
class RawBatch:
    """Rows read from one source.

    ``frame`` is indexed by the source row number (1-based, header excluded). ``malformed`` holds the
    rows the reader could not split into fields: ``source_row``, ``text``, ``reason``. ``columns``
    are the contract columns this source provides (``None``: whatever the frame has).
    """

    frame: pd.DataFrame
    source: str
    sha256: str
    kind: str
    malformed: pd.DataFrame = field(default_factory=lambda: pd.DataFrame({"source_row": [], "text": [], "reason": []}))
    columns: tuple[str, ...] | None = None

    @property
    def rows_read(self) -> int:
        return len(self.frame) + len(self.malformed)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def frame_sha256(frame: pd.DataFrame) -> str:
    """A content hash of a frame read from a database (column names, order and values)."""
    digest = hashlib.sha256("\x1f".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame.astype("string"), index=False).to_numpy().tobytes())
    return digest.hexdigest()
