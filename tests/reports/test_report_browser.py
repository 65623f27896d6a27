"""Acceptance: the report of a demo run opens in headless Chromium with the network cut off,
loads nothing beyond itself, shows every section, and a screenshot is taken.

The screenshot is saved as ``report.png`` in the test's tmp folder (and, when
``LABELGATE_SCREENSHOT_DIR`` is set, copied there to look at).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

from reports.compare import compare_report
from reports.html import SECTIONS, report
from tests.browser import Chromium, find_chromium
from tests.reports.conftest import DemoRun

CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on PATH or at /usr/bin/chromium (apt-get install -y chromium)"
)


def _keep(path: Path) -> None:
    folder = os.environ.get("LABELGATE_SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(folder) / path.name)


@needs_chromium
def test_report_renders_offline_in_chromium(demo: DemoRun, tmp_path: Path) -> None:
    assert CHROMIUM is not None
    html = report(demo.db, demo.run_id, tmp_path / "report.html").path
    with Chromium(CHROMIUM) as browser:
        page = browser.load(html)
        headings = browser.evaluate("[...document.querySelectorAll('h2')].map(h => h.textContent)")
        status = browser.evaluate("document.getElementById('audit-status').textContent")
        images = browser.evaluate("[...document.images].map(i => [i.complete, i.naturalWidth])")
        charts = browser.evaluate("document.querySelectorAll('.chart svg').length")
        shot = browser.screenshot(tmp_path / "report.png")
    _keep(shot)
    assert [u for u in page.requests if not u.startswith("data:")] == [html.resolve().as_uri()]
    assert page.failed == []
    assert headings == [title for _, title in SECTIONS]
    assert "Audit chain verified" in status
    assert images and all(done and width > 0 for done, width in images)  # thumbnails decoded
    assert charts >= 4
    with Image.open(shot) as picture:
        assert picture.width >= 1000 and picture.height > 3000  # the whole page, not a blank viewport
        assert len(picture.convert("L").getcolors(1 << 16) or []) > 50  # not a blank page


@needs_chromium
def test_compare_page_renders_offline_in_chromium(demo: DemoRun, tmp_path: Path) -> None:
    assert CHROMIUM is not None
    compare_report(demo.db, demo.run_id, demo.run_id, tmp_path / "compare.html")
    with Chromium(CHROMIUM) as browser:
        page = browser.load(tmp_path / "compare.html")
        headings = browser.evaluate("[...document.querySelectorAll('h2')].map(h => h.textContent)")
        shot = browser.screenshot(tmp_path / "compare.png")
    _keep(shot)
    assert [u for u in page.requests if not u.startswith("data:")] == [(tmp_path / "compare.html").as_uri()]
    assert headings == ["Runs", "Rulebook diff", "Findings per rule", "Flipped decisions"]
