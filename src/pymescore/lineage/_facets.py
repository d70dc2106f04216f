"""Facets of pymescore's run events: the standard OpenLineage facets it uses, each with its schema URL, and
pymescore's custom facets (prefixed ``pymescore_``), whose JSON schemas ship in ``lineage/schemas/``."""

from __future__ import annotations

from importlib import metadata
from typing import Any

_SPEC = "https://openlineage.io/spec"
#: the OpenLineage version of the run events (the base schema of openlineage-python 1.x)
RUN_EVENT_SCHEMA = f"{_SPEC}/2-0-2/OpenLineage.json#/$defs/RunEvent"
_CUSTOM = "urn:pymescore:spec:facets:1-0-0"
#: facet name -> its schema URL
SCHEMA_URLS = {
    "schema": f"{_SPEC}/facets/1-2-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet",
    "version": f"{_SPEC}/facets/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet",
    "inputStatistics": f"{_SPEC}/facets/1-0-0/InputStatisticsInputDatasetFacet.json"
    "#/$defs/InputStatisticsInputDatasetFacet",
    "outputStatistics": f"{_SPEC}/facets/1-0-2/OutputStatisticsOutputDatasetFacet.json"
    "#/$defs/OutputStatisticsOutputDatasetFacet",
    "processing_engine": f"{_SPEC}/facets/1-1-1/ProcessingEngineRunFacet.json#/$defs/ProcessingEngineRunFacet",
    "errorMessage": f"{_SPEC}/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet",
    "jobType": f"{_SPEC}/facets/2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet",
    "pymescore_sha256": f"{_CUSTOM}:Sha256DatasetFacet.json#/$defs/Sha256DatasetFacet",
    "pymescore_quarantine": f"{_CUSTOM}:QuarantineDatasetFacet.json#/$defs/QuarantineDatasetFacet",
    "pymescore_codeVersion": f"{_CUSTOM}:CodeVersionRunFacet.json#/$defs/CodeVersionRunFacet",
}


def version() -> str:
    try:
        return metadata.version("pymescore")
    except metadata.PackageNotFoundError:  # a source tree that is not installed
        return "0+unknown"


def producer() -> str:
    """The URI of what produced the events (OpenLineage's ``producer``): pymescore and its version."""
    return f"urn:pymescore:{version()}"


def facet(kind: str, /, **fields: Any) -> dict[str, Any]:
    """A facet of ``kind``: ``_producer``, ``_schemaURL`` and its fields (those that are None are left out)."""
    given = {k: v for k, v in fields.items() if v is not None}
    return {"_producer": producer(), "_schemaURL": SCHEMA_URLS[kind], **given}
