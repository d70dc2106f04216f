"""The site's references are generated from the code (docsgen/): each one is checked here against what the code
offers, found another way than the generator finds it — the command line through ``--help``, the Python API by
importing each public module, the HTTP API from the app's routes, the policy by loading its example back — so a
command, an option, a public name, a route or a key missing from the reference fails a test."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
from pathlib import Path
from typing import Any

import pytest
from docsgen import cli_ref, files_ref, http_ref, python_ref
from typer.testing import CliRunner


@pytest.fixture(scope="module")
def cli_text() -> str:
    return cli_ref.cli_reference()


def _sections(text: str) -> dict[str, str]:
    """Each command's section of the CLI reference, by the command's words."""
    parts = re.split(r"^#+ `(pymescore[^`]*)` \{#[\w-]+\}$", text, flags=re.MULTILINE)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def _help_boxes(words: list[str]) -> dict[str, list[str]]:
    """The lines of each box (``Options``, ``Commands``, ``Arguments``) that ``pymescore WORDS --help`` draws."""
    from pymescore.cli import _register, app

    if not app.registered_commands:
        _register()
    done = CliRunner().invoke(app, [*words, "--help"], env={"COLUMNS": "250", "TERM": "dumb"})
    assert done.exit_code == 0, done.output
    boxes: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in done.output.splitlines():
        title = re.match(r"^╭─ (\w+) ─", line)
        if title:
            current = boxes.setdefault(title.group(1), [])
        elif line.startswith("╰"):
            current = None
        elif current is not None:
            current.append(line.removeprefix("│ ").rstrip("│ "))  # continuation lines start blank
    return boxes


def _leading_flags(line: str) -> list[str]:
    """The flags an options-box line starts with (``--lake -l <path> Lake folder…`` -> ``--lake``, ``-l``)."""
    flags = []
    for token in line.removeprefix("*").split():
        if not token.startswith("-"):
            break
        flags.append(token.rstrip(","))
    return flags


def test_every_command_and_option_that_help_shows_is_in_the_cli_reference(cli_text: str) -> None:
    sections = _sections(cli_text)
    todo, seen = [["pymescore"]], 0
    while todo:
        words = todo.pop()
        section = sections.get(" ".join(words))
        assert section is not None, f"`{' '.join(words)}` is missing from the CLI reference"
        boxes = _help_boxes(words[1:])
        flags = {f for line in boxes.get("Options", []) for f in _leading_flags(line)} - {"--help"}
        missing = sorted(f for f in flags if f"`{f}`" not in section)
        assert missing == [], f"{' '.join(words)}: options missing from its reference section: {missing}"
        seen += 1
        subs = [line.split()[0] for line in boxes.get("Commands", []) if line[:1].strip()]
        todo += [[*words, s] for s in subs]  # every subcommand --help lists must have its own section
    from pymescore.cli import app

    registered = {c.name for c in app.registered_commands} | {g.name for g in app.registered_groups}
    assert {w.split()[1] for w in sections if len(w.split()) > 1} >= registered
    assert seen == len(cli_ref.command_paths()) >= 30


def _runtime_public_names(module_name: str) -> set[str]:
    """What a user of the module can import: its ``__all__``, else the classes and functions it defines."""
    module = importlib.import_module(module_name)
    if hasattr(module, "__all__"):
        return {n for n in module.__all__ if not n.startswith("__")}
    return {n for n, v in vars(module).items() if not n.startswith("_") and (inspect.isclass(v) or
            inspect.isfunction(v)) and getattr(v, "__module__", None) == module_name}  # fmt: skip


def test_every_public_python_name_has_a_reference_entry() -> None:
    modules = python_ref.public_modules()
    for expected in ("pymescore", "pymescore.decision", "pymescore.service", "pymescore.features"):
        assert expected in modules
    for module in modules:
        page = python_ref.module_page(module)
        missing = sorted(n for n in _runtime_public_names(module) if f"        - {n}\n" not in page + "\n")
        assert missing == [], f"{module}: public names missing from its reference page: {missing}"


def test_every_route_and_schema_of_the_openapi_document_is_in_the_http_reference() -> None:
    document = http_ref.openapi_document()
    text = http_ref.http_reference(document)
    routes = [(m.upper(), p) for p, item in document["paths"].items() for m in item if m != "parameters"]
    assert ("POST", "/v1/scores") in routes
    assert len(routes) >= 10
    for method, path in routes:
        assert f"`{method} {path}`" in text, (method, path)
        for parameter in document["paths"][path][method.lower()].get("parameters", []):
            assert f"`{parameter['name']}`" in text
    for name, schema in document["components"]["schemas"].items():
        assert f"### {name} " in text
        for field in schema.get("properties", {}):
            assert f"| `{field}` |" in text, (name, field)


def test_the_policy_reference_names_every_key_and_its_example_loads_as_the_default(tmp_path: Path) -> None:
    from pymescore.decision import RULE_TEXTS, Policy, load_policy

    text = files_ref.policy_reference()
    for field in dataclasses.fields(Policy):
        assert f"| `{field.name}` |" in text
    for code in RULE_TEXTS:
        assert f"`{code}`" in text
    example = tmp_path / "policy.toml"
    example.write_text(files_ref.policy_example(), encoding="utf-8")
    assert load_policy(example) == Policy()


def test_the_regulation_and_settings_references_name_every_key() -> None:
    import tomllib

    from pymescore.config import Settings
    from pymescore.regulation import load_regulation

    text = files_ref.regulation_reference()
    raw = files_ref.regulation_raw()

    def leaves(table: dict[str, Any], prefix: str = "") -> list[str]:
        return [k for key, v in table.items() for k in
                (leaves(v, f"{prefix}{key}.") if isinstance(v, dict) else [f"{prefix}{key}"])]  # fmt: skip

    assert leaves(raw)
    assert all(f"| `{key}` |" in text for key in leaves(raw))
    assert load_regulation().name == raw["name"]  # the file documented is the one the loader reads
    assert tomllib  # the reference reads the same TOML the loader parses
    settings = files_ref.settings_reference()
    for name in Settings.model_fields:
        assert f"`PYMESCORE_{name.upper()}`" in settings
