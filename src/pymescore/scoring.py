"""Batch scoring of a table with a bundle (``pymescore score``): the service's decision stage, row by row
alike — PD, score, band, decision, suggested amount (when the table has ``requested_amount`` and
``term_months``, in PEN), the top reasons and the policy rules fired."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from pymescore.bundle import Bundle
from pymescore.contracts import object_array
from pymescore.decision import DecisionStage, Policy, current_policy
from pymescore.errors import ConfigError
from pymescore.regulation import GUARANTEES
from pymescore.tables import check_table

#: the columns that carry an application's amount (PEN) and term; with them the capacity rule runs
AMOUNT_COLUMNS = ("requested_amount", "term_months")


def source_values(stage: DecisionStage, frame: pd.DataFrame, matrix: np.ndarray) -> dict[str, np.ndarray]:
    """The rows' features as the model reads them, by source column: numbers from the model matrix, categories
    and other text as labels (None missing)."""
    columns = stage.compiled.columns
    out: dict[str, np.ndarray] = {}
    for ct in stage.model.preprocessor.types:
        if ct.kind in ("numeric", "money_text") and ct.column in columns:
            out[ct.column] = matrix[:, columns.index(ct.column)]
        elif ct.column in frame.columns:
            out[ct.column] = object_array(frame[ct.column])
        else:
            out[ct.column] = np.full(len(frame), None, dtype=object)
    return out


def _model_input(stage: DecisionStage, frame: pd.DataFrame) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for ct in stage.model.preprocessor.types:
        if ct.column not in frame.columns:
            continue
        values = frame[ct.column]
        if ct.kind == "numeric" and pd.api.types.is_numeric_dtype(values.dtype):
            out[ct.column] = values.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            out[ct.column] = object_array(values)
    return out


def score(
    bundle: Bundle,
    frame: pd.DataFrame,
    top: int = 4,
    lang: str = "es",
    policy: Policy | None = None,
    id_cols: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Per row: ``pd``, ``score``, ``band``, ``decision``, (``requested_amount``, ``suggested_amount``),
    ``reason_1..top`` (texts in ``lang``) and ``policy_rules`` (the codes fired, ``;``-separated), with the
    ``id_cols`` passed through first (default: the group and time columns the bundle knows, ``ruc`` and
    ``as_of`` on an SME bundle). With amounts, also the SBS ``credit_type``, the ``sbs_category`` a new loan takes,
    its ``provision_rate``, ``provision_amount`` and ``expected_loss`` (by the optional ``guarantee`` column).

    An SME bundle decides under ``policy`` (default: the policy in force). A generic bundle (any other table)
    has no ``decision``, ``policy_rules`` nor amounts unless a ``policy`` is given: the SME policy's cut-offs
    mean nothing on other data."""
    check_table(bundle, frame)
    meta = bundle.model.metadata
    known = (meta.get("group_col"), meta.get("time_col"), "ruc", "as_of")  # those of them the table has
    ids = list(id_cols) if id_cols is not None else list(dict.fromkeys(c for c in known if c and c in frame.columns))
    missing = [c for c in ids if c not in frame.columns]
    if missing:
        raise ConfigError(f"--id-cols: expected columns of the table, got {', '.join(map(str, missing))}")
    decides = policy is not None or bool(meta.get("snapshot"))
    stage = DecisionStage(bundle.model, bundle.reference, policy or current_policy(), nthread=1)
    matrix = stage.compiled.matrix(_model_input(stage, frame), len(frame))
    values = source_values(stage, frame, matrix)
    n = len(frame)
    has_amounts = decides and all(c in frame.columns for c in AMOUNT_COLUMNS)
    if has_amounts:
        requested = pd.to_numeric(frame["requested_amount"], errors="coerce").to_numpy(dtype=np.float64)
        term = pd.to_numeric(frame["term_months"], errors="coerce").to_numpy(dtype=np.float64)
        bad = np.flatnonzero(~(requested > 0) | ~np.isfinite(requested) | ~((term >= 1) & (term <= 600))
                             | (term != np.floor(term)))  # fmt: skip
        if len(bad):
            raise ConfigError(
                "requested_amount / term_months: expected a finite amount > 0 and whole months from 1 to 600 on every "
                f"row, got "
                f"{frame['requested_amount'].iloc[bad[0]]!r} / {frame['term_months'].iloc[bad[0]]!r} on data row "
                f"{int(bad[0]) + 1} ({len(bad)} row(s)); fill them in or drop both columns to score without amounts"
            )
        if "currency" in frame.columns and (frame["currency"].astype(str) != "PEN").any():
            raise ConfigError("currency: expected PEN on every row (convert the amounts to soles first)")
    else:
        requested, term = np.full(n, np.nan), np.ones(n)
    guarantee = frame["guarantee"].astype(str).tolist() if "guarantee" in frame.columns else None
    wrong = [k for k, g in enumerate(guarantee or []) if g not in GUARANTEES]
    if wrong:
        raise ConfigError(f"guarantee: expected one of {', '.join(GUARANTEES)} on every row, got "
                          f"{guarantee[wrong[0]]!r} on data row {wrong[0] + 1} ({len(wrong)} row(s))")  # type: ignore[index]  # fmt: skip
    d = stage.run(matrix, values, requested, term.astype(np.int64), np.ones(n), lang, top, guarantee=guarantee,
                  sequences=bundle.model.sequences(frame))  # fmt: skip
    out = pd.DataFrame({"pd": d.pd, "score": d.score, "band": d.band, "decision": d.decision})
    if has_amounts:
        out["requested_amount"] = requested
        out["suggested_amount"] = d.suggested
        for key in ("credit_type", "sbs_category", "provision_rate", "provision_amount", "expected_loss"):
            out[key] = [r[key] for r in d.regulatory or []]
    for i in range(top):
        out[f"reason_{i + 1}"] = [r[i]["text"] if len(r) > i else None for r in d.reasons]
    out["policy_rules"] = [";".join(rules) for rules in d.rules]
    if not decides:
        out = out.drop(columns=["decision", "policy_rules"])
    for i, keep in enumerate(ids):
        out.insert(i, keep, frame[keep].to_numpy())
    return out


# -- on a Dask cluster -------------------------------------------------------------------------------------------
_BUNDLES: dict[str, Bundle] = {}


def _bundle_at(location: str) -> Bundle:
    """The bundle at ``location`` (a folder or an object-storage URL), loaded and verified once per process."""
    if location not in _BUNDLES:
        from pymescore.bundle import load_bundle
        from pymescore.storage import readable

        with readable(location) as path:
            _BUNDLES[location] = load_bundle(path)
    return _BUNDLES[location]


def _score_part(
    part: int,
    source: str | pd.DataFrame,
    bundle: str,
    folder: str,
    lang: str,
    policy: Policy | None,
    id_cols: Sequence[str] | None,
) -> tuple[int, float]:
    """One part on a worker: read it (a part file, or the rows handed over), score it with :func:`score`, write
    ``folder/part-NNNNN.parquet``; (rows, sum of PDs)."""

    from pymescore.storage import filesystem, is_remote

    if isinstance(source, pd.DataFrame):
        frame = source
    elif is_remote(source):
        fs, path = filesystem(source)
        frame = pd.read_parquet(path, filesystem=fs)
    else:
        frame = pd.read_parquet(source)
    frame.attrs["source"] = f"part {part}"
    scored = score(_bundle_at(bundle), frame, lang=lang, policy=policy, id_cols=id_cols)
    target = f"{folder.rstrip('/')}/part-{part:05d}.parquet"
    if is_remote(folder):
        fs, path = filesystem(target)
        scored.to_parquet(path, index=False, filesystem=fs)
    else:
        scored.to_parquet(target, index=False)
    return len(scored), float(scored["pd"].sum())


def score_distributed(
    bundle: str,
    parts: Sequence[str | pd.DataFrame],
    out: str,
    client: Any,
    lang: str = "es",
    policy: Policy | None = None,
    id_cols: Sequence[str] | None = None,
) -> dict[str, Any]:
    """:func:`score` on the cluster of ``client``, one task per part (a Parquet file each worker reads, or a
    frame), every row through the same decision stage; written as the folder ``out`` of ``part-NNNNN.parquet``
    files with its marker last (``pymescore.storage.staged_folder``). Returns the marker's record."""
    import json

    from pymescore.storage import staged_folder

    folder, commit, discard = staged_folder(out)
    try:
        handed = [client.scatter(p) if isinstance(p, pd.DataFrame) else p for p in parts]  # rows go to a worker once
        futures = [
            client.submit(_score_part, i, part, bundle, folder, lang, policy, id_cols, pure=False)
            for i, part in enumerate(handed)
        ]
        done = client.gather(futures)
        rows = sum(n for n, _ in done)
        record = {"rows": rows, "mean_pd": sum(s for _, s in done) / rows if rows else None, "parts": len(parts),
                  "bundle": bundle, "files": [f"part-{i:05d}.parquet" for i in range(len(parts))]}  # fmt: skip
        commit(json.dumps(record, indent=1))
    except BaseException:
        discard()
        raise
    return record
