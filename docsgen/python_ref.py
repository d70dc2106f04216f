"""The Python API reference: each public module's public names, rendered by mkdocstrings.

A module is public when no part of its dotted name starts with ``_``; its public names are its ``__all__`` where it
declares one, else the functions, classes and constants it defines at top level whose names do not start with
``_`` (imports are not its own). The command line (``pymescore.cli``) has its own reference; Alembic's migration
scripts are the audit store's history, not an API.
"""

from __future__ import annotations

import ast
import pkgutil
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
EXCLUDED = ("pymescore.cli", "pymescore.service.migrations")


def public_modules() -> list[str]:
    """Every public module of the package, the package itself first."""
    import pymescore

    names = ["pymescore"]
    for info in pkgutil.walk_packages(pymescore.__path__, "pymescore."):
        parts = info.name.split(".")
        if any(p.startswith("_") for p in parts) or info.name.startswith(EXCLUDED):
            continue
        names.append(info.name)
    return sorted(names, key=lambda n: (n != "pymescore", n))


def source_of(module: str) -> Path:
    base = SRC.joinpath(*module.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def public_names(module: str) -> list[str]:
    """The module's ``__all__``, else the public names its source defines at top level (read, not imported)."""
    tree = ast.parse(source_of(module).read_text(encoding="utf-8"))
    defined: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            return [str(n) for n in ast.literal_eval(node.value) if not str(n).startswith("__")]
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defined.append(node.name)
        elif isinstance(node, ast.Assign):
            defined += [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            defined.append(node.target.id)
    return [n for n in dict.fromkeys(defined) if not n.startswith("_") and n not in ("log", "logger")]


def module_summary(module: str) -> str:
    tree = ast.parse(source_of(module).read_text(encoding="utf-8"))
    doc = ast.get_docstring(tree) or ""
    first = doc.strip().split("\n\n")[0]
    return " ".join(first.split())


def page_path(module: str) -> str:
    return f"reference/python/{module}.md"


def module_page(module: str) -> str:
    names = public_names(module)
    lines = [f"# `{module}`", ""]
    if not names:
        return "\n".join([*lines, module_summary(module), ""])
    members = "\n".join(f"        - {n}" for n in names)
    lines += [
        f"::: {module}",
        "    options:",
        "      show_root_heading: false",
        "      show_root_toc_entry: false",
        "      members:",
        members,
        "",
    ]
    return "\n".join(lines)


def index_page(modules: list[str]) -> str:
    lines = [
        "# Python API",
        "",
        "The public modules and their public names, generated at build time from the code (`docsgen/python_ref.py`",
        "chooses the names: a module's `__all__`, else what it defines without a leading underscore; mkdocstrings",
        "renders their signatures and docstrings). Modules whose name starts with `_` are implementation and may",
        "change without notice. Errors: every one raised on purpose is a `pymescore.errors.PymescoreError`.",
        "",
        "| module | public names | what it is |",
        "|---|---|---|",
    ]
    for module in modules:
        count = len(public_names(module))
        lines.append(f"| [`{module}`]({module}.md) | {count} | {module_summary(module).replace('|', '/')} |")
    return "\n".join(lines) + "\n"
