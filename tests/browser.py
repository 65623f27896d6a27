"""Debian's headless Chromium, driven by Playwright, for the real-browser tests.

No browser download: Playwright launches the system ``chromium`` (``apt-get install -y
chromium``; ``.ci/run`` does it). :func:`open_offline` cuts the network (a proxy that refuses,
every host name unresolvable) and records every URL the page asks for, so a test can assert
that a page loads nothing beyond itself.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
]
OFFLINE = [
    "--proxy-server=127.0.0.1:9",  # any request that escapes fails to connect
    "--host-resolver-rules=MAP * ~NOTFOUND",  # and no host name resolves
]


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


@dataclass
class Loaded:
    page: Page
    requests: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


@contextmanager
def open_offline(binary: str, path: Path, *, width: int = 1280, height: int = 900) -> Iterator[Loaded]:
    """Open a local file with the network cut off; yields the page and what it requested."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=binary, headless=True, args=FLAGS + OFFLINE)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            loaded = Loaded(page)
            page.on("request", lambda request: loaded.requests.append(request.url))
            page.on("requestfailed", lambda request: loaded.failed.append((request.url, request.failure or "")))
            page.goto(path.resolve().as_uri(), wait_until="load")
            yield loaded
        finally:
            browser.close()
