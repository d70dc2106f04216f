"""The OpenAPI document: FastAPI's schema made to say what the server enforces.

- every error response is ``application/problem+json``;
- the history records say what their tables' contracts accept (``_contract_schema``);
- batch items are the shared ``ScoreRequest`` component, or any object (refused on its own, as a 422 item);
- ``features`` (POST /v1/scores) and predict's ``instances`` list the served model's features by name, each with
  the values it takes (a number within float32, or one of a registry category's codes): a name the model does not
  have is refused, so the document says so. It follows the model: a reload that changes the features changes it.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from pymescore.service._contract_schema import constrain_records
from pymescore.service._problems import PROBLEM
from pymescore.service._scorer import Scorer, today_lima
from pymescore.service._state import ServiceState

FLOAT32_MAX = 3.4028234663852886e38


def feature_schema(state: ServiceState) -> dict[str, Any] | None:
    """The object schema of one row of the served model's features; None while no model is loaded."""
    scorer = state.scorer if isinstance(state.scorer, Scorer) else None  # (a test stands a bare object in)
    if scorer is None:
        return None
    properties: dict[str, Any] = {}
    for name in scorer.features:
        domain = scorer._domains.get(name)
        if domain is not None:
            properties[name] = {"anyOf": [{"type": "string", "enum": sorted(domain)}, {"type": "null"}]}
        elif name in scorer._categorical:
            properties[name] = {"anyOf": [{"type": "string", "maxLength": 200}, {"type": "null"}]}
        else:
            number = {"type": "number", "minimum": -FLOAT32_MAX, "maximum": FLOAT32_MAX}
            properties[name] = {"anyOf": [number, {"type": "null"}]}
    return {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
        "description": f"Features of model {scorer.version}, by name (GET /v1/model); a feature left out is missing.",
    }


def openapi_builder(app: FastAPI, state: ServiceState) -> Callable[[], dict[str, Any]]:
    """``app.openapi``: the document, built once per served model version."""
    cache: dict[str, dict[str, Any]] = {}

    def openapi() -> dict[str, Any]:
        # the model's features, and today's date: 'not after today' is part of the contract
        version = state.scorer.version if isinstance(state.scorer, Scorer) else ""
        version += f"@{dt.date.today()}/{today_lima()}"
        if version not in cache:
            cache.clear()
            cache[version] = _build(app, state)
        app.openapi_schema = cache[version]
        return cache[version]

    return openapi


def _build(app: FastAPI, state: ServiceState) -> dict[str, Any]:
    spec = get_openapi(title=app.title, version=app.version, summary=app.summary, description=app.description,
                       routes=app.routes)  # fmt: skip
    for path in spec.get("paths", {}).values():
        for operation in path.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status.isdigit() and int(status) >= 400 and "application/json" in content:
                    content[PROBLEM] = content.pop("application/json")
    schemas = spec.get("components", {}).get("schemas", {})
    constrain_records(schemas, dt.date.today(), today_lima())
    # batch items are validated one by one by the route (SkipValidation), which makes pydantic inline a copy of
    # ScoreRequest: documented as the shared component, one type for client SDKs; any other object is taken too
    # and answered by its own 422 item inside the batch's 200, so the document says so
    if "BatchRequest" in schemas and "ScoreRequest" in schemas:
        schemas["BatchRequest"]["properties"]["applications"]["items"] = {
            "anyOf": [
                {"$ref": "#/components/schemas/ScoreRequest"},
                {"type": "object", "description": "Any other object: refused on its own, as a 422 item."},
            ]
        }
    row = feature_schema(state)
    if row is not None:
        schemas["FeatureRow"] = row
        ref = {"$ref": "#/components/schemas/FeatureRow"}
        if "ScoreRequest" in schemas:
            features = schemas["ScoreRequest"]["properties"]["features"]
            features["anyOf"] = [ref, {"type": "null"}]
        if "PredictRequest" in schemas:
            schemas["PredictRequest"]["properties"]["instances"]["items"] = copy.deepcopy(ref)
    return spec
