"""Checks an OpenLineage run event against the OpenLineage model that openlineage-python ships (its classes are
generated from the official JSON schema: required fields, types, enums, and the validators of eventTime, runId
and the URIs), and pymescore's custom facets against their JSON schemas in src/pymescore/lineage/schemas/.

openlineage-python ships no copy of the JSON schema files themselves (1.54: only the generated classes), so the
generated model is the schema as the package has it."""

from __future__ import annotations

import enum
import json
import types
import typing
from pathlib import Path
from typing import Any

import attr
import jsonschema_rs
from openlineage.client.generated import (
    base,
    dataset_version_dataset,
    error_message_run,
    input_statistics_input_dataset,
    job_type_job,
    output_statistics_output_dataset,
    processing_engine_run,
    schema_dataset,
)

import pymescore.lineage

SCHEMAS = Path(pymescore.lineage.__file__).parent / "schemas"
#: facet name -> the generated class of its schema
STANDARD: dict[str, type] = {
    "schema": schema_dataset.SchemaDatasetFacet,
    "version": dataset_version_dataset.DatasetVersionDatasetFacet,
    "inputStatistics": input_statistics_input_dataset.InputStatisticsInputDatasetFacet,
    "outputStatistics": output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet,
    "processing_engine": processing_engine_run.ProcessingEngineRunFacet,
    "errorMessage": error_message_run.ErrorMessageRunFacet,
    "jobType": job_type_job.JobTypeJobFacet,
}
_FACET_BASES = (base.DatasetFacet, base.InputDatasetFacet, base.OutputDatasetFacet, base.RunFacet, base.JobFacet)


def _custom(name: str, value: Any, where: str) -> None:
    url = value.get("_schemaURL", "")
    file = SCHEMAS / url.split(":")[-1].split("#")[0]
    assert url.startswith("urn:pymescore:spec:facets:"), f"{where}: {name} is not a pymescore facet: {url}"
    assert file.is_file(), f"{where}: no schema for {name}: {url}"
    errors = [e.message for e in jsonschema_rs.validator_for(json.loads(file.read_text())).iter_errors(value)]
    assert not errors, f"{where}: {errors}"


def build(cls: Any, value: Any, where: str) -> Any:
    """``value`` as an instance of the generated ``cls``; an AssertionError names the first place it breaks."""
    origin = typing.get_origin(cls)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(cls) if a is not type(None)]
        return None if value is None else build(args[0], value, where)
    if origin is list:
        assert isinstance(value, list), f"{where}: expected a list, got {value!r}"
        return [build(typing.get_args(cls)[0], v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        assert isinstance(value, dict), f"{where}: expected an object, got {value!r}"
        kind = typing.get_args(cls)[1]
        out = {}
        for k, v in value.items():
            if kind in _FACET_BASES:
                assert isinstance(v, dict), f"{where}.{k}: not a facet"
                assert {"_producer", "_schemaURL"} <= set(v), f"{where}.{k}: a facet without _producer/_schemaURL"
                if k in STANDARD:
                    assert issubclass(STANDARD[k], kind), f"{where}.{k}: a {STANDARD[k].__name__} is no {kind}"
                    assert v["_schemaURL"] == STANDARD[k]._get_schema(), f"{where}.{k}: schema URL {v['_schemaURL']}"
                    out[k] = build(STANDARD[k], v, f"{where}.{k}")
                else:
                    assert k.startswith("pymescore_"), f"{where}.{k}: a custom facet without the pymescore_ prefix"
                    _custom(k, v, f"{where}.{k}")
            else:
                out[k] = build(kind, v, f"{where}.{k}")
        return out
    if isinstance(cls, type) and issubclass(cls, enum.Enum):
        return cls(value)
    if cls in (str, int, float, bool):
        ok = isinstance(value, cls) and not (cls is int and isinstance(value, bool))
        assert ok, f"{where}: expected {cls.__name__}, got {value!r}"
        return value
    assert attr.has(cls), f"{where}: unexpected type {cls}"
    attr.resolve_types(cls)
    assert isinstance(value, dict), f"{where}: expected an object, got {value!r}"
    fields = {f.alias if f.name.startswith("_") else f.name: f for f in attr.fields(cls)}
    keys = {("_" + k if fields[k].name.startswith("_") else k): k for k in fields}
    extra = set(value) - set(keys)
    if not issubclass(cls, base.BaseFacet):
        assert not extra, f"{where}: fields the schema does not have: {sorted(extra)}"
    kwargs = {}
    for key, name in keys.items():
        f = fields[name]
        if key not in value:
            assert f.default is not attr.NOTHING, f"{where}: required field {key!r} missing"
            continue
        checked = build(f.type, value[key], f"{where}.{key}")
        if f.init:
            kwargs[f.alias] = checked
    return cls(**kwargs)


def check_event(event: dict[str, Any]) -> None:
    """Assert that ``event`` is a valid OpenLineage RunEvent (building it runs the model's validators)."""
    built = build(base.RunEvent, event, "event")
    assert built.eventType is not None, "a run event has an eventType"
