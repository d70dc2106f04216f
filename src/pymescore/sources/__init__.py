"""Sources: readers for files, SQL and the SUNAT register, and ingestion into the lake."""

from pymescore.sources._batch import RawBatch
from pymescore.sources._folder import INGEST_ORDER, ingest_folder
from pymescore.sources._ingest import IngestSummary, ingest
from pymescore.sources._readers import SourceOptions, read_source

__all__ = ["INGEST_ORDER", "IngestSummary", "RawBatch", "SourceOptions", "ingest", "ingest_folder", "read_source"]
