"""The scorecard exported to SQL gives the Python scorecard's points exactly, run on PostgreSQL over a simulated
snapshot (missing values as NULL and as NaN, padded, empty and unseen categories), for a scorecard-only bundle
(Platt and isotonic calibration: the bundle's own score) and for a blend (the scorecard family's points)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pymescore.bundle import load_bundle
from pymescore.model import TrainConfig, train
from pymescore.model._sql import ExportError, identifier, scorecard_score, to_sql
from pymescore.runs import run_training
from tests.test_model import FAST, generic_table

LABELS = ("default_12m",)


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """A small simulated population's snapshot at two dates (its feature columns as the lake gives them)."""
    from pymescore.features._snapshot import build_snapshot
    from pymescore.lake import Lake
    from pymescore.simulate import SimulationConfig, simulate, write_simulation
    from pymescore.sources import ingest_folder

    root = tmp_path_factory.mktemp("sql_sim")
    write_simulation(simulate(SimulationConfig(firms=1500, months=36, seed=5, error_rate=0.0)), root / "sim")
    lake = Lake(root / "lake")
    ingest_folder(root / "sim", lake)
    frame, _ = build_snapshot(lake, ["2023-12-31", "2024-12-31"])
    return frame


def _awkward(frame: pd.DataFrame, categorical: list[str]) -> pd.DataFrame:
    """The same rows with the cells a database holds in practice: categories padded, empty or never seen."""
    out = frame.copy()
    for c in categorical:
        out[c] = out[c].astype(object)
        known = out[c].notna()
        out.loc[known & (np.arange(len(out)) % 11 == 1), c] = " " + out.loc[known, c].astype(str) + "  "
        out.loc[np.arange(len(out)) % 13 == 2, c] = ""
        out.loc[np.arange(len(out)) % 17 == 3, c] = "NUNCA VISTO"
        out.loc[np.arange(len(out)) % 19 == 4, c] = None
    return out


def _run_sql(url: str, schema: str, frame: pd.DataFrame, numeric: list[str], sql: str) -> pd.DataFrame:
    import sqlalchemy as sa

    from pymescore.sources._readers import _driver_url

    engine = sa.create_engine(_driver_url(url))
    try:
        table = frame.assign(row_id=np.arange(len(frame)))
        table.to_sql("features", engine, schema=schema, index=False, if_exists="replace")
        with engine.begin() as conn:  # missing numbers as NaN too (to_sql wrote NULL): both are missing
            for c in numeric[::3]:
                conn.execute(sa.text(f'UPDATE "{schema}".features SET "{c}" = \'NaN\' WHERE "{c}" IS NULL '
                                     "AND row_id % 2 = 0"))  # fmt: skip
            result = pd.read_sql(sa.text(f"SELECT row_id, score FROM ({sql.rstrip().rstrip(';')}) AS s "
                                         "ORDER BY row_id"), conn)  # fmt: skip
    finally:
        engine.dispose()
    return result


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize(
    ("families", "calibration"),
    [(("scorecard",), "platt"), (("scorecard",), "isotonic"), (("lightgbm", "scorecard", "logistic"), "auto")],
)
def test_the_sql_export_gives_the_python_scorecard_points_exactly(
    pg_schema: tuple[str, str],
    snapshot: pd.DataFrame,
    tmp_path: Path,
    families: tuple[str, ...],
    calibration: str,
) -> None:
    url, schema = pg_schema
    config = TrainConfig(target="default_12m", group_col="ruc", time_col="as_of", trials=1, time_budget=5.0, folds=3,
                         families=families, calibration=calibration)  # type: ignore[arg-type]  # fmt: skip
    bundle = tmp_path / "bundle"
    model = run_training(snapshot, config, bundle, dataset="sim")[0].model  # the snapshot's domain, as the CLI does
    assert model.scorecard is not None  # in the blend too: else the test would say nothing about it
    assert model.calibrator.method == calibration or calibration == "auto"
    out = tmp_path / "scorecard.sql"
    done = subprocess.run([sys.executable, "-m", "pymescore", "export", "--bundle", str(bundle), "--format", "sql",
                           "--sql-table", f"{schema}.features", "--out", str(out)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["score"] == ("bundle score" if families == ("scorecard",) else "scorecard points")
    categorical = [ct.column for ct in model.preprocessor.types if ct.kind == "category"]
    numeric = [ct.column for ct in model.preprocessor.types if ct.kind == "numeric"]
    assert categorical  # the snapshot's sector and region: the categorical bins are exercised
    rows = _awkward(snapshot.drop(columns=list(LABELS)), categorical)
    got = _run_sql(url, schema, rows, numeric, out.read_text())
    expected = scorecard_score(load_bundle(bundle).model, rows)
    assert len(got) == len(rows)
    mismatched = np.flatnonzero(got["score"].to_numpy() != expected)
    assert len(mismatched) == 0, (len(mismatched), got["score"].to_numpy()[mismatched[:5]], expected[mismatched[:5]])
    if families == ("scorecard",):  # a scorecard alone: the SQL gives the bundle's own score
        assert np.array_equal(expected, model.predict(rows)["score"].to_numpy())
    assert len(np.unique(expected)) > 20  # a real spread of scores, not a constant


def test_the_export_refuses_what_sql_cannot_say(tmp_path: Path) -> None:
    config = TrainConfig(target="status", positive="CHGOFF", holdout=0.2, families=("logistic",), **FAST)  # type: ignore[arg-type]
    result = train(generic_table(800), config)
    with pytest.raises(ExportError, match="no scorecard family"):
        to_sql(result.model)
    for bad in ("", "a..b", "x.y.z.w"):
        with pytest.raises(ExportError, match="--sql-table"):
            identifier(bad)
    assert identifier('core."features"') == '"core"."""features"""'
    sc: Any = train(generic_table(800), TrainConfig(target="status", positive="CHGOFF", holdout=0.2,
                                                    families=("scorecard",), **FAST))  # type: ignore[arg-type]  # fmt: skip
    assert "income" in {v["name"] for v in sc.model.scorecard.variables_}  # money written as text
    with pytest.raises(ExportError, match="the SQL export reads"):  # money as text, date parts: not SQL's
        to_sql(sc.model)
