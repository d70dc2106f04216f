"""The API's documentation pages, served with no network beyond the service: Swagger UI at ``/docs`` and ReDoc at
``/redoc`` load their scripts and styles from the package (``static/docs``, vendored from npm: versions and
licences in ``static/docs/VENDORED.md``), not from a CDN, so they render on an air-gapped bank network.
``/`` redirects to ``/docs``."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).with_name("static") / "docs"
#: where the vendored assets are served
PREFIX = "/static/docs"


def mount_docs(app: FastAPI, openapi_url: str = "/openapi.json") -> None:
    """Mount the vendored assets and add ``/docs``, ``/docs/oauth2-redirect``, ``/redoc`` and ``/`` (none of
    them in the OpenAPI document)."""
    app.mount(PREFIX, StaticFiles(directory=STATIC), name="docs-static")
    router = APIRouter(include_in_schema=False)
    title = app.title

    @router.get("/", response_class=RedirectResponse)
    def root() -> RedirectResponse:
        return RedirectResponse("/docs", status_code=307)

    @router.get("/docs", response_class=HTMLResponse)
    def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{title} — Swagger UI",
            oauth2_redirect_url="/docs/oauth2-redirect",
            swagger_js_url=f"{PREFIX}/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url=f"{PREFIX}/swagger-ui/swagger-ui.css",
            swagger_favicon_url=f"{PREFIX}/swagger-ui/favicon-32x32.png",
        )

    @router.get("/docs/oauth2-redirect", response_class=HTMLResponse)
    def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @router.get("/redoc", response_class=HTMLResponse)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{title} — ReDoc",
            redoc_js_url=f"{PREFIX}/redoc/redoc.standalone.js",
            redoc_favicon_url=f"{PREFIX}/swagger-ui/favicon-32x32.png",
            with_google_fonts=False,  # fonts from Google would be one more request an air-gapped network refuses
        )

    app.include_router(router)
