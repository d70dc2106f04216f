"""OpenLineage events around the commands that move data: what each reads and writes, from its options.

``traced(job, where=..., inputs=..., outputs=...)`` wraps a command: START before it, COMPLETE or FAIL after
(``pymescore.lineage``). ``where`` is the folder of ``openlineage.jsonl``: the lake, or the folder of the
output when the command has no lake.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from pymescore.lineage import Dataset, LineageConfig

Kw = dict[str, Any]
F = TypeVar("F", bound=Callable[..., Any])


def lineage_config() -> LineageConfig:
    from pymescore.config import Settings
    from pymescore.lineage import lineage_config as from_settings

    return from_settings(Settings())


def traced(
    job: str | Callable[[Kw], str],
    *,
    where: Callable[[Kw], Path | str],
    inputs: Callable[[Kw], list[Dataset]],
    outputs: Callable[[Kw], list[Dataset]],
    when: Callable[[Kw], bool] = lambda kw: True,
) -> Callable[[F], F]:
    """Emit ``job``'s run events around a typer command (its signature kept, so its options stay the same)."""

    def wrap(command: F) -> F:
        if getattr(command, "_traced", False):  # registered twice in one process (tests): wrap once
            return command

        @functools.wraps(command)
        def run(**kw: Any) -> Any:
            if not when(kw):
                return command(**kw)
            from pymescore.lineage import lineage_run

            name = job(kw) if callable(job) else job
            with lineage_run(name, lineage_config(), lambda: where(kw), lambda: inputs(kw), lambda: outputs(kw)):
                return command(**kw)

        run._traced = True  # type: ignore[attr-defined]
        return run  # type: ignore[return-value]

    return wrap


# -- what each command reads and writes ----------------------------------------------------------------------
def _where(value: object) -> Path | str:
    """A local path, or an object-storage URL kept as text (a Path would fold its ``//``)."""
    from pymescore.storage import is_remote

    return str(value) if is_remote(str(value)) else Path(str(value))


def _lake(kw: Kw) -> Path | str:
    return _where(kw["lake"])


def _beside(key: str) -> Callable[[Kw], Path | str]:
    def get(kw: Kw) -> Path | str:
        where = _where(kw[key])
        return where.rsplit("/", 1)[0] if isinstance(where, str) else where.resolve().parent

    return get


def ingest_inputs(kw: Kw) -> list[Dataset]:
    from pymescore.lineage import file_dataset, sql_dataset
    from pymescore.sources._readers import is_sql_url

    source = str(kw["source"])
    if kw.get("fmt") == "sql" or is_sql_url(source):
        return [sql_dataset(source, kw.get("sql_table"), kw.get("query"))]
    return [file_dataset(Path(source))]


def folder_inputs(kw: Kw) -> list[Dataset]:
    from pymescore.lineage import file_dataset
    from pymescore.sources._folder import folder_sources
    from pymescore.sources._parts import part_files

    found = folder_sources(Path(kw["folder"]))
    return [file_dataset(p) for _, path in found for p in (part_files(path) if path.is_dir() else [path])]


def folder_outputs(kw: Kw) -> list[Dataset]:
    from pymescore.lineage import lake_datasets
    from pymescore.sources._folder import folder_sources

    return lake_datasets(_lake(kw), [table for table, _ in folder_sources(Path(kw["folder"]))])


def rates_inputs(kw: Kw) -> list[Dataset]:
    from pymescore.config import Settings
    from pymescore.lineage import file_dataset, url_dataset

    read = [] if kw.get("offline") else [url_dataset(f"{Settings().bcrp_url.rstrip('/')}/{kw['series']}")]
    return read + ([file_dataset(Path(kw["csv"]))] if kw.get("csv") else [])


def table_output(table: str) -> Callable[[Kw], list[Dataset]]:
    def get(kw: Kw) -> list[Dataset]:
        from pymescore.lineage import lake_dataset

        return [lake_dataset(_lake(kw), kw.get("table") or table)]

    return get


def lake_inputs(kw: Kw) -> list[Dataset]:
    from pymescore.lineage import lake_datasets

    return lake_datasets(_lake(kw))


def files(*keys: str) -> Callable[[Kw], list[Dataset]]:
    def get(kw: Kw) -> list[Dataset]:
        from pymescore.lineage import file_dataset, folder_dataset, object_dataset

        paths = [_where(kw[k]) for k in keys if kw.get(k) is not None]
        return [object_dataset(p) if isinstance(p, str) else folder_dataset(p) if p.is_dir() else file_dataset(p)
                for p in paths]  # fmt: skip

    return get


def monitor_inputs(kw: Kw) -> list[Dataset]:
    from pymescore.config import Settings
    from pymescore.lineage import folder_dataset, lake_datasets, sql_dataset

    url = kw.get("database_url") or Settings().database_url
    read = [folder_dataset(Path(kw["bundle"])), sql_dataset(url, "decisions", None)]
    return read + (lake_datasets(_lake(kw), ["payments", "bureau_ratings"]) if kw.get("lake") else [])


def folder_files(names: tuple[str, ...]) -> Callable[[Kw], list[Dataset]]:
    def get(kw: Kw) -> list[Dataset]:
        from pymescore.lineage import file_dataset

        return [file_dataset(Path(kw["out"]) / n) for n in names if (Path(kw["out"]) / n).exists()]

    return get


def monitor_where(kw: Kw) -> Path | str:
    """The lake; without one, the --out folder itself: monitor creates no file outside it (issue 17)."""
    return _lake(kw) if kw.get("lake") else Path(kw["out"]).resolve()


#: command -> its job name and what it reads and writes (the registry ``instrument`` walks)
JOBS: dict[str, dict[str, Any]] = {
    "ingest": {"job": lambda kw: f"ingest.{kw['table']}", "where": _lake, "inputs": ingest_inputs,
               "outputs": table_output("")},
    "ingest-folder": {"job": "ingest", "where": _lake, "inputs": folder_inputs, "outputs": folder_outputs},
    "ingest-rates": {"job": "ingest.exchange_rates", "where": _lake, "inputs": rates_inputs,
                     "outputs": table_output("exchange_rates")},
    "features": {"job": "features", "where": _lake, "inputs": lake_inputs, "outputs": files("out"),
                 "when": lambda kw: kw["ctx"].invoked_subcommand is None and None not in (kw["lake"], kw["out"])},
    "train": {"job": "train", "where": _beside("out"), "inputs": files("table"), "outputs": files("out")},
    "score": {"job": "score", "where": _beside("out"), "inputs": files("bundle", "table"), "outputs": files("out")},
    "monitor": {"job": "monitor", "where": monitor_where, "inputs": monitor_inputs,
                "outputs": folder_files(("monitor.json", "monitor.html", "monitor.prom"))},
    "portfolio": {"job": "portfolio", "where": _lake, "inputs": lake_inputs,
                  "outputs": folder_files(("loans.parquet", "summary.parquet", "migration.parquet",
                                           "vintages.parquet", "portfolio.json", "portfolio.html"))},
}  # fmt: skip


def instrument(app: Any) -> None:
    """Wrap each command of ``JOBS`` registered on the typer ``app`` (commands, and group callbacks such as
    ``features``) so that it emits its run events."""
    for info in app.registered_commands:
        if info.name in JOBS:
            info.callback = traced(**JOBS[info.name])(info.callback)
    for group in app.registered_groups:
        callback = group.typer_instance.registered_callback
        if group.name in JOBS and callback is not None and callback.callback is not None:
            callback.callback = traced(**JOBS[group.name])(callback.callback)
