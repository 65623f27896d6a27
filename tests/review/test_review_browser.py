"""The review screen in a real browser: ``labelgate review`` serving, headless Chromium looking.

Uses Debian's Chromium through Playwright (never a downloaded browser). Skipped only when no
Chromium binary exists; CI installs it (``.ci/run``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from PIL import Image

from engine.review import load_item
from engine.review_media import HIGHLIGHT
from tests.browser import FLAGS, find_chromium
from tests.helpers import REPO
from tests.review.conftest import ReviewSource, review_items

CHROMIUM = find_chromium()


pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium binary (apt-get install -y chromium; .ci/run does it)"
)


@pytest.fixture
def server(image_run: ReviewSource, tmp_path: Path) -> Iterator[str]:
    """``labelgate review`` on a free port; yields its URL and stops it (and only it) afterwards."""
    log = (tmp_path / "server.log").open("w")
    env = {**os.environ, "LABELGATE_HOME": str(tmp_path / "home")}
    env.pop("LABELGATE_REVIEWERS", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "review", "--db", str(image_run.db), "--port", "0"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("open http://127.0.0.1:"), line
        url = line.removeprefix("open ")
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError((tmp_path / "server.log").read_text()) from None
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()  # the command stops its Streamlit server on SIGTERM
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # our own session's process group, by its id
            proc.wait(timeout=5)
        log.close()


def _highlight_pixels(path: Path) -> int:
    target = tuple(int(HIGHLIGHT[i : i + 2], 16) for i in (1, 3, 5))
    image = Image.open(path).convert("RGB")
    return sum(
        count
        for count, color in image.getcolors(maxcolors=1 << 24) or []
        if sum(abs(a - b) for a, b in zip(color, target, strict=True)) < 40
    )


def test_item_view_in_headless_chromium(server: str, image_run: ReviewSource, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    item_id = next(
        i for i in review_items(image_run.db, image_run.run_id) if load_item(image_run.db, image_run.run_id, i).flagged
    )
    detail = load_item(image_run.db, image_run.run_id, item_id)
    finding = detail.findings.iloc[0]
    shot = tmp_path / "item-view.png"
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a fresh profile
            executable_path=CHROMIUM,
            headless=True,
            args=FLAGS,
            viewport={"width": 1600, "height": 1000},
        )
        try:
            page = context.new_page()
            page.goto(f"{server}/?{urlencode({'run': image_run.run_id, 'item': item_id})}")
            page.get_by_text("Rules fired").first.wait_for(timeout=60_000)
            page.wait_for_function(
                "() => [...document.querySelectorAll('[data-testid=stImage] img, img')]"
                ".some(img => img.complete && img.naturalWidth > 300)",
                timeout=30_000,
            )
            page.wait_for_timeout(500)  # let the last deltas paint
            text = page.inner_text("body")
            page.screenshot(path=str(shot))
        finally:
            context.close()
    assert str(finding["rule_id"]) in text
    assert str(finding["clause"]) in text.replace("\n", " ")
    assert item_id in text and "Why it is here" in text
    assert shot.stat().st_size > 20_000
    assert _highlight_pixels(shot) > 200  # the flagged box is drawn in the highlight colour
