"""Static checks on generated HTML: nothing it contains can load anything from elsewhere."""

from __future__ import annotations

import re
from html.parser import HTMLParser

LOADING_ATTRIBUTES = {"src", "href", "xlink:href", "action", "formaction", "poster", "data", "srcset", "background"}
FORBIDDEN_TAGS = {"script", "link", "iframe", "object", "embed", "base", "frame", "audio", "video", "source"}


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.references: list[tuple[str, str, str]] = []
        self.headings: list[str] = []
        self._in_h2 = False
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in LOADING_ATTRIBUTES and value is not None:
                self.references.append((tag, name, value))
        if tag == "h2":
            self._in_h2, self._text = True, []

    def handle_endtag(self, tag: str) -> None:
        if tag == "h2" and self._in_h2:
            self.headings.append("".join(self._text).strip())
            self._in_h2 = False

    def handle_data(self, data: str) -> None:
        if self._in_h2:
            self._text.append(data)


def parse(html: str) -> _Collector:
    collector = _Collector()
    collector.feed(html)
    return collector


def assert_self_contained(html: str) -> _Collector:
    page = parse(html)
    assert not FORBIDDEN_TAGS & set(page.tags), FORBIDDEN_TAGS & set(page.tags)
    for tag, name, value in page.references:
        assert value.startswith(("data:", "#")), f"<{tag} {name}={value[:80]!r}> would load something"
    styles = "".join(re.findall(r"<style>(.*?)</style>", html, flags=re.S))
    assert "@import" not in styles and "url(" not in styles
    assert "default-src 'none'" in html  # the Content-Security-Policy forbids any load anyway
    return page
