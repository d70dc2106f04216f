"""The documentation site's references, generated from the code at build time (``mkdocs build`` runs
``docsgen/hooks.py``): the command line from the typer app, the HTTP API from the service's OpenAPI document, the
Python API from each package's public names (rendered by mkdocstrings), the feature catalog from the registry,
the policy, regulation and settings files from their loaders and defaults. Nothing here is copied by hand, so a
reference cannot fall behind the code; ``tests/test_docs_reference.py`` checks that nothing public is missing.
"""

from __future__ import annotations

from docsgen._pages import reference_pages

__all__ = ["reference_pages"]
