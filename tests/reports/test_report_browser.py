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

from engine.store import Store
from reports.compare import compare_report
from reports.html import SECTIONS, report
from tests.browser import find_chromium, open_offline
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
    shot = tmp_path / "report.png"
    with open_offline(CHROMIUM, html) as loaded:
        page = loaded.page
        headings = page.evaluate("[...document.querySelectorAll('h2')].map(h => h.textContent)")
        status = page.evaluate("document.getElementById('audit-status').textContent")
        images = page.evaluate("[...document.images].map(i => [i.complete, i.naturalWidth])")
        charts = page.evaluate("document.querySelectorAll('.chart svg').length")
        page.screenshot(path=str(shot), full_page=True)
    _keep(shot)
    assert [u for u in loaded.requests if not u.startswith("data:")] == [html.resolve().as_uri()]
    assert loaded.failed == []
    assert headings == [title for _, title in SECTIONS]
    assert "Audit chain verified" in status
    with Store(demo.db).read() as con:  # the head it shows is an entry of the log, to anchor a later verify
        seq, digest = status.split("--anchor ")[1].split()[0].split(":")
        assert con.execute("SELECT hash FROM audit_log WHERE seq = ?", [int(seq)]).fetchall() == [(digest,)]
    assert images and all(done and width > 0 for done, width in images)  # thumbnails decoded
    assert charts >= 4
    with Image.open(shot) as picture:
        assert picture.width >= 1000 and picture.height > 3000  # the whole page, not a blank viewport
        assert len(picture.convert("L").getcolors(1 << 16) or []) > 50  # not a blank page


@needs_chromium
def test_compare_page_renders_offline_in_chromium(demo: DemoRun, tmp_path: Path) -> None:
    assert CHROMIUM is not None
    compare_report(demo.db, demo.run_id, demo.run_id, tmp_path / "compare.html")
    shot = tmp_path / "compare.png"
    with open_offline(CHROMIUM, tmp_path / "compare.html") as loaded:
        headings = loaded.page.evaluate("[...document.querySelectorAll('h2')].map(h => h.textContent)")
        loaded.page.screenshot(path=str(shot), full_page=True)
    _keep(shot)
    assert [u for u in loaded.requests if not u.startswith("data:")] == [(tmp_path / "compare.html").as_uri()]
    assert headings == ["Runs", "Rulebook diff", "Findings per rule", "Flipped decisions"]
