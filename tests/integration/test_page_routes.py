"""The page at `/` over plain HTTP (no browser: tests/browser drives it in chromium): served
without an API key or rate limit, with its own strict Content-Security-Policy, nothing
inline, and its files packaged."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from api.controllers.page import STATIC_DIR, media_sources
from api.middleware import page_content_security_policy
from podnex.settings import Settings
from tests.conftest import LiveApi


class Inline(HTMLParser):
    """Inline script, inline style, style attributes and event-handler attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "style":
            self.found.append("<style>")
        if tag == "script" and "src" not in names:
            self._in = "script"
        self.found += [
            f"{tag}[{name}]" for name in names if name == "style" or name.startswith("on")
        ]

    def handle_data(self, data: str) -> None:
        if self._in == "script" and data.strip():
            self.found.append("inline <script>")

    def handle_endtag(self, tag: str) -> None:
        self._in = None


async def test_page_is_served_without_a_key_with_a_strict_policy(api: LiveApi) -> None:
    response = await api.client.get("/")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "ratelimit-limit" not in response.headers
    policy = response.headers["content-security-policy"]
    assert policy == page_content_security_policy()
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["script-src-attr"] == directives["style-src-attr"] == "'none'"
    assert directives["connect-src"] == "'self'"
    assert directives["media-src"] == "'self' blob:"
    assert "unsafe" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"

    inline = Inline()
    inline.feed(response.text)
    assert inline.found == []
    assert not re.search(r"https?://", response.text)  # nothing from elsewhere


@pytest.mark.parametrize("name", ["app.js", "app.css"])
async def test_page_files_are_public_and_revalidated(api: LiveApi, name: str) -> None:
    response = await api.client.get(f"/static/page/{name}", headers={"Accept-Encoding": "br"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["content-encoding"] == "br"
    assert response.content == (STATIC_DIR / "page" / name).read_bytes()


async def test_static_files_stay_inside_their_folder(api: LiveApi) -> None:
    for path in ["/static/page/../../paths.py", "/static/page/%2e%2e/%2e%2e/paths.py"]:
        assert (await api.client.get(path)).status_code == 404


async def test_the_rest_of_the_api_still_needs_a_key(api: LiveApi) -> None:
    assert (await api.client.get("/api/v1/voices")).status_code == 401


def test_signed_links_elsewhere_may_play_on_the_page(settings: Settings) -> None:
    assert media_sources(settings) == ()
    s3 = settings.model_copy(
        update={
            "storage_backend": "s3",
            "s3_endpoint_url": "http://minio:9000",
            "s3_public_endpoint_url": "http://localhost:9000/",
            "public_base_url": "https://podnex.example.com/base",
        }
    )
    assert media_sources(s3) == ("https://podnex.example.com", "http://localhost:9000")
    aws = settings.model_copy(update={"storage_backend": "s3"})
    assert media_sources(aws) == ("https://*.amazonaws.com",)
    assert "media-src 'self' blob: https://*.amazonaws.com;" in page_content_security_policy(
        media_sources(aws)
    )
