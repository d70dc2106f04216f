"""Every generated page of the site, by its path under ``docs/`` (the files do not exist on disk)."""

from __future__ import annotations

from docsgen import cli_ref, files_ref, http_ref, ops_ref, python_ref


def reference_index() -> str:
    return "\n".join([
        "# Reference",
        "",
        "Generated from the code each time the site is built (`make docs`), so they describe the code as it is:",
        "",
        "- [Command line](cli.md): every `pymescore` command and option, from the typer application.",
        "- [HTTP API](http.md): every route, parameter and schema, from the service's OpenAPI document.",
        "- [Python API](python/index.md): the public modules and names, with their docstrings.",
        "- [Feature catalog](features.md): every feature, from the registry (`pymescore features catalog`).",
        "- [Decision policy file](policy.md), [regulation file](regulation.md) and [settings](settings.md):",
        "  every key, from their loaders and defaults.",
        "- [Alerts runbook](alerts.md): what each Prometheus alert means and what to do.",
        "",
    ])  # fmt: skip


def reference_pages() -> dict[str, str]:
    """``{path under docs/: Markdown or file text}`` of every generated page."""
    from pymescore.features._docs import catalog_markdown

    document = http_ref.openapi_document()
    pages = {
        "reference/index.md": reference_index(),
        "reference/cli.md": cli_ref.cli_reference(),
        "reference/http.md": http_ref.http_reference(document),
        "reference/openapi.json": http_ref.openapi_json(document),
        "reference/features.md": catalog_markdown(),
        "reference/policy.md": files_ref.policy_reference(),
        "reference/regulation.md": files_ref.regulation_reference(),
        "reference/settings.md": files_ref.settings_reference(),
        "reference/alerts.md": ops_ref.alerts_reference(),
    }
    modules = python_ref.public_modules()
    pages["reference/python/index.md"] = python_ref.index_page(modules)
    for module in modules:
        pages[python_ref.page_path(module)] = python_ref.module_page(module)
    return pages


def python_nav() -> list[dict[str, str] | str]:
    """The Python API section of the navigation: the index, then one page per public module."""
    return ["reference/python/index.md", *({m: python_ref.page_path(m)} for m in python_ref.public_modules())]
