"""The HTTP API reference: the OpenAPI document the service generates, rendered as static tables (routes,
parameters, request and response schemas), with no JavaScript and nothing fetched at view time."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

METHODS = ("get", "post", "put", "patch", "delete")


def openapi_document() -> dict[str, Any]:
    """The document ``GET /openapi.json`` serves, from an app built with no model loaded (the served model only
    adds its feature names to ``features`` and ``instances``) and a throw-away audit store that is never opened."""
    from pymescore.config import Settings
    from pymescore.service import build_state, create_app

    with tempfile.TemporaryDirectory(prefix="pymescore-docs-") as root:
        settings = Settings(serve_bundle=Path(root) / "no-bundle", database_url=f"sqlite:///{root}/audit.db",
                            lake=Path(root) / "no-lake", reload_interval_s=0)  # fmt: skip
        app = create_app(build_state(settings))
        document: dict[str, Any] = app.openapi()
    return document


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(METHOD, path, operation) of every route the document lists, in its order."""
    found = []
    for path, item in document.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                found.append((method.upper(), path, item[method]))
    return found


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


def schema_anchor(name: str) -> str:
    return "schema-" + _slug(name)


def type_text(schema: dict[str, Any]) -> str:
    """A schema's type as a reader says it: a link to a component, ``array of X``, ``A or B``, an enum's values."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{schema_anchor(name)})"
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            parts = [type_text(s) for s in schema[key]]
            return (" and " if key == "allOf" else " or ").join(dict.fromkeys(parts))
    if "enum" in schema:
        values = [f"`{v}`" for v in schema["enum"][:12]]
        return "one of " + ", ".join(values) + (", …" if len(schema["enum"]) > 12 else "")
    if "const" in schema:
        return f"`{schema['const']}`"
    kind = schema.get("type", "any")
    if kind == "array":
        return "array of " + type_text(schema.get("items", {}))
    if kind == "object" and "additionalProperties" in schema and isinstance(schema["additionalProperties"], dict):
        return "object of " + type_text(schema["additionalProperties"])
    fmt = schema.get("format")
    return f"{kind} ({fmt})" if fmt else str(kind)


def constraints(schema: dict[str, Any]) -> str:
    names = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "pattern",
             "minItems", "maxItems", "default")  # fmt: skip
    found = [f"{n} `{schema[n]}`" for n in names if n in schema]
    for option in schema.get("anyOf", []):
        found += [f"{n} `{option[n]}`" for n in names if n in option and n != "default"]
    return ", ".join(dict.fromkeys(found))


def _cell(text: Any) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _operation(method: str, path: str, op: dict[str, Any]) -> list[str]:
    lines = [f"### `{method} {path}` {{#{_slug(method + ' ' + path)}}}", ""]
    if op.get("summary"):
        lines += [f"**{op['summary']}**", ""]
    if op.get("description"):
        lines += [op["description"].strip(), ""]
    scopes = op.get("security")
    if scopes:
        lines += ["Authentication: `Authorization: Bearer KEY`.", ""]
    params = op.get("parameters", [])
    if params:
        lines += ["| parameter | in | required | type | meaning |", "|---|---|---|---|---|"]
        for p in params:
            schema = p.get("schema", {})
            meaning = _cell(p.get("description", schema.get("description", "")))
            required = "yes" if p.get("required") else "no"
            lines.append(f"| `{p['name']}` | {p['in']} | {required} | {type_text(schema)} | {meaning} |")
        lines.append("")
    body = op.get("requestBody")
    if body:
        kinds = [f"`{media}`: {type_text(content.get('schema', {}))}" for media, content in body["content"].items()]
        lines += ["Request body" + (" (required)" if body.get("required") else "") + ": " + "; ".join(kinds) + ".", ""]
    responses = op.get("responses", {})
    if responses:
        lines += ["| status | meaning | body |", "|---|---|---|"]
        for status, response in responses.items():
            bodies = [f"`{media}` {type_text(c.get('schema', {}))}" for media, c in response.get("content", {}).items()]
            lines.append(f"| {status} | {_cell(response.get('description', ''))} | {'; '.join(bodies)} |")
        lines.append("")
    return lines


def _schema(name: str, schema: dict[str, Any]) -> list[str]:
    lines = [f"### {name} {{#{schema_anchor(name)}}}", ""]
    if schema.get("description"):
        lines += [_cell(schema["description"]), ""]
    properties = schema.get("properties", {})
    if not properties:
        lines += [f"Type: {type_text(schema)}.", ""]
        return lines
    required = set(schema.get("required", []))
    lines += ["| field | type | required | constraints | meaning |", "|---|---|---|---|---|"]
    for field, spec in properties.items():
        lines.append(f"| `{field}` | {type_text(spec)} | {'yes' if field in required else 'no'} | "
                     f"{constraints(spec)} | {_cell(spec.get('description', spec.get('title', '')))} |")  # fmt: skip
    lines.append("")
    return lines


def http_reference(document: dict[str, Any]) -> str:
    info = document.get("info", {})
    lines = [
        "# HTTP API reference",
        "",
        f"**{info.get('title', '')}** {info.get('version', '')}, OpenAPI {document.get('openapi', '')}. Generated at",
        "build time from the document the service serves at `GET /openapi.json` (`docsgen/http_ref.py`); the",
        "whole document: [openapi.json](openapi.json). A running service also shows it at `/docs` and `/redoc`",
        "(assets served by the service itself). Errors are `application/problem+json` (RFC 9457).",
        "",
    ]
    if info.get("description"):
        lines += [info["description"].strip(), ""]
    lines += ["## Routes", "", "| method | path | what it does |", "|---|---|---|"]
    ops = operations(document)
    for method, path, op in ops:
        lines.append(f"| {method} | [`{path}`](#{_slug(method + ' ' + path)}) | {_cell(op.get('summary', ''))} |")
    lines.append("")
    for method, path, op in ops:
        lines += _operation(method, path, op)
    lines += ["## Schemas", ""]
    for name, schema in document.get("components", {}).get("schemas", {}).items():
        lines += _schema(name, schema)
    return "\n".join(lines)


def openapi_json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=1, ensure_ascii=False)
