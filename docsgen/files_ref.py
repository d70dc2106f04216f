"""References of the files and settings a deployment edits: the decision policy (the ``Policy`` dataclass and its
rule texts), the regulation file (every key of the packaged SBS file, walked from the TOML its loader reads) and
the ``PYMESCORE_*`` settings (the pydantic ``Settings`` fields)."""

from __future__ import annotations

import dataclasses
import inspect
import io
import tokenize
import tomllib
from importlib import resources
from typing import Any


def _cell(text: Any) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


def field_comments(cls: type) -> dict[str, str]:
    """The comment at the end of each field's line in ``cls``'s source (``annual_rate: float = 0.35  # TEA …``)."""
    source = inspect.getsource(cls)
    comments: dict[str, str] = {}
    lines = source.splitlines()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            line = lines[token.start[0] - 1].strip()
            name = line.split(":", 1)[0].strip()
            if name.isidentifier():
                comments[name] = token.string.lstrip("# ").strip()
    return comments


def policy_keys() -> list[str]:
    from pymescore.decision import Policy

    return [f.name for f in dataclasses.fields(Policy)]


def policy_example() -> str:
    """A policy file with every key at its default: what ``load_policy`` reads back as the default policy."""
    from pymescore.decision import Policy

    default = Policy()
    return "\n".join(f"{f.name} = {_toml_value(getattr(default, f.name))}" for f in dataclasses.fields(Policy))


def policy_reference() -> str:
    from pymescore.decision import RULE_TEXTS, Policy

    default, notes = Policy(), field_comments(Policy)
    lines = [
        "# Decision policy file",
        "",
        "The one source of every cut-off (`pymescore.decision.Policy`). A TOML file with any of these keys replaces",
        "the defaults: `PYMESCORE_POLICY_FILE=policy.toml`, or `--policy policy.toml` on `serve`, `score`, `train`,",
        "`report`, `gate` and `simulate-policy`. An unknown key or an invalid value is refused (`CONFIG_INVALID`).",
        "The policy's version (its name + a hash of every value) is stored with every decision.",
        "Generated from the dataclass at build time (`docsgen/files_ref.py`).",
        "",
        "| key | type | default | meaning |",
        "|---|---|---|---|",
    ]
    for f in dataclasses.fields(Policy):
        kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
        lines.append(f"| `{f.name}` | {kind} | `{_toml_value(getattr(default, f.name))}` | "
                     f"{_cell(notes.get(f.name, ''))} |")  # fmt: skip
    lines += ["", "Every key at its default (a valid policy file):", "", "```toml", policy_example(), "```", ""]
    lines += ["## Rules a decision names", "", "| code | español | English |", "|---|---|---|"]
    for code, (es, en) in RULE_TEXTS.items():
        lines.append(f"| `{code}` | {_cell(es)} | {_cell(en)} |")
    return "\n".join(lines) + "\n"


def regulation_raw() -> dict[str, Any]:
    """The packaged regulation file, as ``load_regulation`` reads it when no other file is named."""
    from pymescore.regulation._rules import DEFAULT_FILE

    text = resources.files("pymescore.regulation").joinpath("data", DEFAULT_FILE).read_text(encoding="utf-8")
    return tomllib.loads(text)


def flat_keys(table: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Every leaf key of a TOML table as (dotted.key, value); inline tables are walked too."""
    found: list[tuple[str, Any]] = []
    for key, value in table.items():
        dotted = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            found += flat_keys(value, dotted)
        else:
            found.append((dotted, value))
    return found


def regulation_reference() -> str:
    from pymescore.regulation._rules import DEFAULT_FILE

    raw = regulation_raw()
    lines = [
        "# Regulation file",
        "",
        "The SBS rules as data: debtor classification by days past due, alignment, credit types, provisions and",
        "LGD (`pymescore.regulation.load_regulation`). pymescore ships",
        f"`src/pymescore/regulation/data/{DEFAULT_FILE}`; to correct a value, copy it, cite the official text and",
        "point `PYMESCORE_REGULATION_FILE` at the copy. `verified = false` marks a value not yet checked against",
        "the official text; its `note` says what was searched and found. Every key of the packaged file, generated",
        "at build time (`docsgen/files_ref.py`):",
        "",
        "| key | value |",
        "|---|---|",
    ]
    for key, value in flat_keys(raw):
        shown = _cell(value)
        if len(shown) > 300:
            shown = shown[:300] + " …"
        lines.append(f"| `{key}` | {shown} |")
    return "\n".join(lines) + "\n"


def settings_reference() -> str:
    from pymescore.config import Settings

    lines = [
        "# Settings (`PYMESCORE_*`)",
        "",
        "One settings object, `pymescore.config.Settings`: each field is read from the environment variable",
        "`PYMESCORE_<FIELD>` (upper case), else from `pymescore.toml` in the working folder, else its default. An",
        "invalid value stops the command with a one-line `CONFIG_INVALID` error. Generated from the fields at",
        "build time (`docsgen/files_ref.py`).",
        "",
        "| variable | type | default | meaning |",
        "|---|---|---|---|",
    ]
    for name, field in Settings.model_fields.items():
        kind = getattr(field.annotation, "__name__", None) or str(field.annotation).replace("typing.", "")
        from pydantic_core import PydanticUndefined

        default = "" if field.default in (None, PydanticUndefined) else f"`{field.default}`"
        if field.default_factory is not None:
            default = "generated"
        lines.append(f"| `PYMESCORE_{name.upper()}` | {_cell(kind)} | {default} | {_cell(field.description or '')} |")
    return "\n".join(lines) + "\n"


def families_table() -> str:
    """The model families' registry as a Markdown table: name for ``--families``, what it is, its library and
    extra, and whether this build can fit it."""
    from pymescore.model._families import FAMILIES

    lines = ["| `--families` | family | kind | library | extra | in this build |", "|---|---|---|---|---|---|"]
    for family in FAMILIES.values():
        state = "built" if family.built else _cell(f"not yet: {family.pending}")
        lines.append(f"| `{family.name}` | {_cell(family.label)} | {family.kind} | `{family.module}` | "
                     f"{f'`{family.extra}`' if family.extra else 'core'} | {state} |")  # fmt: skip
    return "\n".join(lines)


#: markers a hand-written page may hold, replaced at build time by a table generated from the code
GENERATED_BLOCKS = {"<!-- generated: model-families -->": families_table}
