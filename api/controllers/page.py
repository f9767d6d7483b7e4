"""The page to try podnex in a browser (`/`), its static files (`/static`), and the API
reference UI served from this origin (`/schema/scalar` without a CDN).

The page is one static HTML file with a script and a style sheet (`api/static/page`): no
build step, nothing inline, every request to this origin. It needs no API key to load; it
asks the person for one and sends it as `Authorization: Bearer` on every API call it makes.
Its Content-Security-Policy is `api.middleware.page_content_security_policy`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from litestar import MediaType, Request, Response, get
from litestar.datastructures import CacheControlHeader
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.router import Router
from litestar.static_files import create_static_files_router

from api.paths import PAGE_PATH, STATIC_PATH
from podnex.settings import Settings

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
"""The files under `/static` (packaged with `api`: pyproject's package-data)."""

SCALAR_VERSION = "1.76.0"
SCALAR_JS_URL = f"{STATIC_PATH}/vendor/scalar-api-reference-{SCALAR_VERSION}/standalone.js"
"""Scalar's browser bundle, vendored from npm at a pinned version (see its SOURCE.md)."""


@cache
def page_html() -> bytes:
    return (STATIC_DIR / "page" / "index.html").read_bytes()


@get(PAGE_PATH, include_in_schema=False, cache_control=CacheControlHeader(no_cache=True))
async def page() -> Response[bytes]:
    """The page: create a podcast, watch it being made, listen with its transcript."""
    return Response(page_html(), media_type=MediaType.HTML)


def static_files() -> list[Router]:
    """`/static/page/…`: the page's script and style, revalidated on every use (no-cache,
    ETag), so a new release is picked up at once. `/static/vendor/…`: third-party assets in
    folders named for their pinned version, so cached for a year."""
    return [
        create_static_files_router(
            path=f"{STATIC_PATH}/page",
            directories=[STATIC_DIR / "page"],
            name="static-page",
            include_in_schema=False,
            cache_control=CacheControlHeader(no_cache=True),
        ),
        create_static_files_router(
            path=f"{STATIC_PATH}/vendor",
            directories=[STATIC_DIR / "vendor"],
            name="static-vendor",
            include_in_schema=False,
            cache_control=CacheControlHeader(public=True, max_age=31_536_000, immutable=True),
        ),
    ]


class OfflineScalarRenderPlugin(ScalarRenderPlugin):
    """Litestar's Scalar page without the CDN: the bundle comes from `/static`, no favicon
    or style sheet from jsDelivr, no web fonts from Scalar's servers, and nothing inline
    (the configuration travels in a data attribute), so the page works without internet
    under `api.middleware.SCHEMA_CONTENT_SECURITY_POLICY`."""

    def __init__(self) -> None:
        super().__init__(
            js_url=SCALAR_JS_URL,
            css_url="",
            favicon="",
            style="",
            options={"withDefaultFonts": False},
        )

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        from html import escape

        from msgspec import json

        title = escape(str(openapi_schema["info"]["title"]))
        configuration = escape(json.encode(self.options or {}).decode())
        spec_url = escape(self.get_openapi_json_route(request))
        return (
            "<!DOCTYPE html>\n"
            '<html lang="en">\n'
            "<head>\n"
            '<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{title}</title>\n"
            "</head>\n"
            "<body>\n"
            "<noscript>The API reference needs JavaScript; the OpenAPI document is at "
            f'<a href="{spec_url}">{spec_url}</a>.</noscript>\n'
            f'<script id="api-reference" data-url="{spec_url}" '
            f'data-configuration="{configuration}"></script>\n'
            f'<script src="{escape(self.js_url)}"></script>\n'
            "</body>\n"
            "</html>\n"
        ).encode()


def media_sources(settings: Settings) -> tuple[str, ...]:
    """Origins, besides the API's own, that signed download links may point at: the page's
    audio player loads from them (the page's `media-src`)."""
    sources: list[str] = []
    urls = [settings.public_base_url]
    if settings.storage_backend == "s3":
        endpoint = settings.s3_public_endpoint_url or settings.s3_endpoint_url
        if endpoint is None:
            sources.append("https://*.amazonaws.com")
        urls.append(endpoint)
    for url in urls:
        if url:
            parts = urlsplit(url)
            if parts.scheme and parts.netloc:
                sources.append(f"{parts.scheme}://{parts.netloc}")
    return tuple(dict.fromkeys(sources))
