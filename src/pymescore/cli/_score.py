"""``pymescore score``: batch scoring, in this process or on a Dask cluster."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pymescore.cli._model import Lang
from pymescore.cli._output import emit_json
from pymescore.cli._policy import PolicyOpt, read_policy
from pymescore.cli._scale import SchedulerOpt, WorkerMemoryOpt, quiet_dask

if TYPE_CHECKING:
    import pandas as pd

_OUT = (".parquet", ".pq", ".csv", ".csv.gz", ".tsv", ".tsv.gz")


def score_command(
    bundle: Annotated[str, typer.Option("--bundle", help="Model bundle folder (pymescore train), or s3://….")],
    table: Annotated[
        str, typer.Option("--table", help="CSV/Parquet table, a partitioned snapshot folder, or s3://….")
    ],
    out: Annotated[
        str, typer.Option("--out", help="Output file: .parquet, .csv(.gz) or .tsv(.gz); s3://… too.")
    ],
    lang: Annotated[Lang, typer.Option(help="Language of the reason texts.")] = Lang.es,
    policy: PolicyOpt = None,
    id_cols: Annotated[
        str | None, typer.Option(help="Columns passed through to the output: COL,COL (default: the bundle's "
                                 "group and time columns, ruc and as_of on an SME bundle).")
    ] = None,
    scheduler: SchedulerOpt = None,
    worker_memory: WorkerMemoryOpt = None,
) -> None:  # fmt: skip
    """Batch scoring with the service's decision stage: pd, score, band, decision, reason_1..4 (what pulls the
    score down) and policy_rules per row; requested_amount and suggested_amount too when the table has the
    columns requested_amount and term_months (PEN). The decisions are the service's for the same data and
    policy (--policy, else PYMESCORE_POLICY_FILE, else the built-in). A generic bundle (any other table) gets
    a decision column only with --policy; its reasons read "<column> (valor: x)" / "<column> (value: x)".

    With --scheduler (or PYMESCORE_DASK_SCHEDULER) each part of the table (each file of a partitioned
    snapshot, else an equal share of its rows) is scored on a Dask worker by the same decision stage, and
    --out (.parquet) is a folder of part-NNNNN.parquet files with _lineage.json written last.

    Examples:

        pymescore score --bundle bundle/ --table snapshot.parquet --out scores.parquet

        pymescore score --bundle german_bundle/ --table german.csv --id-cols purpose --lang en --out s.csv

        pymescore score --bundle s3://risk/bundle --table s3://risk/snapshot --scheduler local:2 \\
            --out s3://risk/scores.parquet
    """
    from pymescore.bundle import load_bundle
    from pymescore.cluster import parse_scheduler
    from pymescore.errors import ConfigError
    from pymescore.storage import is_remote, readable

    name = out.lower().rstrip("/")
    if (
        not is_remote(out)
        and not is_remote(table)
        and Path(out).exists()
        and Path(out).resolve() == Path(table).resolve()
    ):
        raise ConfigError(f"--out {out}: expected a new file, got the input --table itself (it would be replaced)")
    if not name.endswith(_OUT):
        raise ConfigError(f"--out {out}: expected a .parquet, .csv(.gz) or .tsv(.gz) file, got '{Path(name).suffix}'")
    cluster = parse_scheduler(scheduler, worker_memory)
    quiet_dask()
    if cluster is not None and not name.endswith((".parquet", ".pq")):
        raise ConfigError(f"--out {out}: expected a .parquet output with --scheduler (a folder of parts), got "
                          f"'{Path(name).suffix}'; name it .parquet or leave --scheduler unset")  # fmt: skip
    with readable(bundle) as local_bundle:
        loaded = load_bundle(local_bundle)
    decision_policy = read_policy(policy) if policy is not None or loaded.model.metadata.get("snapshot") else None
    ids = [c.strip() for c in id_cols.split(",") if c.strip()] if id_cols is not None else None
    if cluster is None:
        _score_here(loaded, table, out, lang.value, decision_policy, ids)
        return
    from pymescore.cluster import dask_client
    from pymescore.scoring import score_distributed

    with dask_client(cluster) as client:
        workers = len(client.scheduler_info().get("workers", {})) or 1
        record = score_distributed(_absolute(bundle), _parts(table, 2 * workers), out, client, lang.value,
                                   decision_policy, ids)  # fmt: skip
    emit_json({"out": out, "rows": record["rows"], "mean_pd": record["mean_pd"], "scheduler": cluster.label,
               "parts": record["parts"]})  # fmt: skip


def _absolute(location: str) -> str:
    from pymescore.storage import is_remote

    return location if is_remote(location) else str(Path(location).resolve())


def _parts(table: str, n: int) -> list[str | pd.DataFrame]:
    """The parts a cluster scores: the files of a partitioned snapshot (each worker reads its own), else the
    table read here and cut into ``n`` shares of rows."""
    import itertools

    import numpy as np

    from pymescore.storage import MARKER, filesystem, is_remote, readable
    from pymescore.tables import read_table

    if is_remote(table):
        fs, key = filesystem(table)
        if fs.isdir(key) and fs.exists(f"{key}/{MARKER}"):
            return [f"{table.rstrip('/')}/{p.rsplit('/', 1)[-1]}" for p in sorted(fs.glob(f"{key}/part-*.parquet"))]
    elif Path(table).is_dir() and (Path(table) / MARKER).is_file():
        return [str(p.resolve()) for p in sorted(Path(table).glob("part-*.parquet"))]
    with readable(table) as path:
        frame = read_table(path)
    bounds = np.linspace(0, len(frame), max(1, min(n, len(frame))) + 1).astype(int)
    return [frame.iloc[a:b].reset_index(drop=True) for a, b in itertools.pairwise(bounds)]


def _score_here(loaded: object, table: str, out: str, lang: str, policy: object, ids: list[str] | None) -> None:
    from pymescore.files import write_atomic
    from pymescore.scoring import score
    from pymescore.storage import readable, writable
    from pymescore.tables import read_table

    with readable(table) as path:
        frame = read_table(path)
    frame.attrs["source"] = table
    scored = score(loaded, frame, lang=lang, policy=policy, id_cols=ids)  # type: ignore[arg-type]
    name = out.lower()

    def write(tmp: Path) -> None:
        if name.endswith((".parquet", ".pq")):
            scored.to_parquet(tmp, index=False)
        else:  # the compression follows --out's name, not the temporary file's
            scored.to_csv(tmp, index=False, sep="\t" if ".tsv" in name else ",",
                          compression="gzip" if name.endswith(".gz") else None)  # fmt: skip

    with writable(out) as target:
        write_atomic(target, write)
    emit_json({"out": out, "rows": len(scored), "mean_pd": float(scored["pd"].mean()) if len(scored) else None})


def register(app: typer.Typer) -> None:
    app.command("score")(score_command)
