"""/v1/docs/ works with no network: Swagger UI's files come from drf-spectacular-sidecar, served
from this site, and the page names no other host."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.contrib.staticfiles import finders
from django.templatetags.static import static

pytestmark = pytest.mark.django_db

SIDECAR_FILES = [
    "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css",
    "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js",
    "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-standalone-preset.js",
    "drf_spectacular_sidecar/swagger-ui-dist/favicon-32x32.png",
]


class References(HTMLParser):
    """Every src and href in the page, and the text of its scripts and styles."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]

    def handle_data(self, data: str) -> None:
        self.inline.append(data)


def references(html: str) -> list[str]:
    parser = References()
    parser.feed(html)
    text = "\n".join(parser.inline)
    # CSS url(...), the script's `url: "..."` settings, and any //host written anywhere.
    parser.urls += re.findall(r"url\(\s*['\"]?([^'\")]+)", text)
    parser.urls += re.findall(r"\burl\s*:\s*['\"]([^'\"]*)['\"]", text, flags=re.IGNORECASE)
    parser.urls += re.findall(r"(?:[a-z][a-z0-9+.-]*:)?//[^\s'\"<>)]+", html, flags=re.IGNORECASE)
    return parser.urls


def test_the_docs_page_refers_to_no_outside_host(admin_client):
    response = admin_client.get("/v1/docs/")

    assert response.status_code == 200
    urls = references(response.content.decode())
    assert urls  # the parser found the page's references
    outside = [u for u in urls if urlsplit(u).netloc not in ("", "testserver")]
    assert outside == []
    for path in SIDECAR_FILES:
        assert static(path) in urls
        assert finders.find(path), f"{path} is not a static file of this site"
    assert "/v1/schema/" in urls
