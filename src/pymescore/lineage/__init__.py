"""OpenLineage run events of pymescore's jobs (ingest, features, train, score, monitor, portfolio): what each
read and wrote, with schemas, row counts, SHA-256 sums, versions and the code version, for Marquez, DataHub,
Atlas or Amundsen to draw where a decision came from. See docs/lineage.md."""

from pymescore.lineage._datasets import (
    Dataset,
    file_dataset,
    folder_dataset,
    lake_dataset,
    lake_datasets,
    object_dataset,
    sql_dataset,
    url_dataset,
)
from pymescore.lineage._facets import SCHEMA_URLS
from pymescore.lineage._run import FILE_NAME, LineageConfig, emit, lineage_config, lineage_run, run_event

__all__ = [
    "FILE_NAME",
    "SCHEMA_URLS",
    "Dataset",
    "LineageConfig",
    "emit",
    "file_dataset",
    "folder_dataset",
    "lake_dataset",
    "lake_datasets",
    "lineage_config",
    "lineage_run",
    "object_dataset",
    "run_event",
    "sql_dataset",
    "url_dataset",
]
