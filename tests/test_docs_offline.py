"""The API docs render with the network cut (issue 17 #7): Swagger UI at ``/docs`` and ReDoc at ``/redoc`` load
their assets from the package, not a CDN, so they work on an air-gapped bank network; ``/`` redirects to the
docs. Checked in Chromium (Debian's ``chromium``, driven by Playwright) with every request that is not to the
service aborted; the page must make no such request and must show the API's operations.

Locally the browser test skips with its reason when ``/usr/bin/chromium`` is missing; CI installs it
(``.ci/run``) and fails any skip."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast
from urllib.parse import urlparse

import pytest
from fastapi.testclient import TestClient

from pymescore.config import Settings
from pymescore.service import build_state, create_app
from pymescore.service._routes_docs import STATIC
from tests.service_support import live_server


@pytest.fixture(scope="module")
def docs_app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The app with no model loaded: the docs and the OpenAPI document need none."""
    root = tmp_path_factory.mktemp("docs")
    settings = Settings(serve_bundle=root / "no-bundle", database_url=f"sqlite:///{root / 'audit.db'}",
                        lake=Path("/nonexistent"), reload_interval_s=0)  # fmt: skip
    state = build_state(settings)
    state.store.migrate()
    state.scorer = cast(Any, object())  # the lifespan loads no model: these pages read none
    return create_app(state)


def test_the_docs_pages_name_no_cdn_and_their_assets_are_served(docs_app: Any) -> None:
    with TestClient(docs_app) as client:
        root = client.get("/", follow_redirects=False)
        assert root.status_code in (302, 307)
        assert root.headers["location"] == "/docs"
        for page in ("/docs", "/redoc"):
            html = client.get(page).text
            assert "cdn." not in html, html
            assert "fonts.googleapis" not in html
            for url in [part.split('"')[0] for part in html.split('src="')[1:] + html.split('href="')[1:]]:
                if url.startswith("/"):
                    assert client.get(url).status_code == 200, url
        assert "/docs" not in client.get("/openapi.json").json()["paths"]
    vendored = (STATIC / "VENDORED.md").read_text()
    for name in ("swagger-ui-dist", "5.35.0", "redoc", "2.5.4", "Apache-2.0", "MIT"):
        assert name in vendored


@pytest.mark.parametrize(("page_path", "operation"), [("/docs", ".opblock"), ("/redoc", "[data-section-id]")])
def test_the_docs_render_offline_in_chromium(docs_app: Any, browser: Any, page_path: str, operation: str) -> None:
    refused: list[str] = []
    with live_server(docs_app) as base:
        context = browser.new_context()

        def only_the_service(route: Any) -> None:
            if urlparse(route.request.url).hostname in ("127.0.0.1", "localhost"):
                route.continue_()
            else:  # the network is cut: a CDN, Google Fonts, anything else is unreachable
                refused.append(route.request.url)
                route.abort("internetdisconnected")

        context.route("**/*", only_the_service)
        page = context.new_page()
        page.goto(base + ("/" if page_path == "/docs" else page_path))
        page.wait_for_selector(operation, timeout=30_000)
        text = page.inner_text("body")
        context.close()
    assert refused == [], refused
    assert "/v1/scores" in text
    assert "pymescore scoring service" in text
