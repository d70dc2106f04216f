"""The SUNAT "padrón reducido del RUC": pipe-delimited, latin-1, a header row, text cut at ~20 chars.

It feeds the register columns of ``firms`` (name, state, domicile condition, UBIGEO); it has no CIIU and
no start date, so those keep whatever the lake already holds.
"""

from __future__ import annotations

import unicodedata
import zipfile
from pathlib import Path
from typing import IO

from pymescore.errors import MissingColumnError, SourceUnreadableError
from pymescore.sources._batch import RawBatch, file_sha256
from pymescore.sources._delimited import Opener, path_opener, read_delimited

#: padrón header (accents and case folded) -> firms column
PADRON_COLUMNS = {
    "RUC": "ruc",
    "NOMBRE O RAZON SOCIAL": "name",
    "ESTADO DEL CONTRIBUYENTE": "taxpayer_state",
    "CONDICION DE DOMICILIO": "domicile_condition",
    "UBIGEO": "ubigeo",
}
PADRON_ENCODING = "latin-1"


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).upper().split())


def _opener(path: Path) -> Opener:
    if path.suffix.lower() != ".zip":
        return path_opener(path)
    try:
        with zipfile.ZipFile(path) as zf:
            members = [n for n in zf.namelist() if n.lower().endswith(".txt")]
    except zipfile.BadZipFile as exc:
        raise SourceUnreadableError(f"{path}: expected a ZIP archive, got a damaged file ({exc})") from exc
    if len(members) != 1:
        raise SourceUnreadableError(f"{path}: expected one .txt file inside the ZIP, got {len(members)}")

    def open_member() -> IO[bytes]:
        zf = zipfile.ZipFile(path)
        return zf.open(members[0])

    return open_member


def looks_like_padron(path: Path) -> bool:
    """True when the file's first line is a padrón header (``RUC|NOMBRE O RAZÓN SOCIAL|...``)."""
    try:
        with _opener(path)() as f:
            first = f.readline(4096).decode(PADRON_ENCODING)
    except (OSError, SourceUnreadableError):
        return False
    return _fold(first).startswith("RUC|NOMBRE")


def read_padron(path: Path, *, encoding: str = PADRON_ENCODING) -> RawBatch:
    """Read a padrón file (.txt or the .zip SUNAT publishes) into ``firms`` columns."""
    frame, malformed = read_delimited(_opener(path), label=str(path), encoding=encoding, delimiter="|")
    rename = {c: PADRON_COLUMNS[_fold(c)] for c in frame.columns if _fold(c) in PADRON_COLUMNS}
    missing = [h for h, c in PADRON_COLUMNS.items() if c not in rename.values() and c != "ubigeo"]
    if missing:
        raise MissingColumnError(
            f"{path}: expected the SUNAT padrón columns {', '.join(missing)}, got "
            f"{', '.join(map(str, frame.columns[:8]))}",
            missing=missing,
        )
    frame = frame[list(rename)].rename(columns=rename)
    return RawBatch(
        frame=frame,
        source=str(path),
        sha256=file_sha256(path),
        kind="sunat_padron",
        malformed=malformed,
        columns=tuple(frame.columns),
    )
