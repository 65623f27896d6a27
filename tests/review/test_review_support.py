"""Reviewers file, images for the screen, the CLI commands, and sharing the file with a batch run."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from app import cli
from app.review_render import Span, spans_html
from engine.review import load_item, record_decision
from engine.review_media import HIGHLIGHT, Box, class_colors, draw_boxes, load_image
from engine.reviewers import Reviewer, hash_token, load_directory, verify_token
from labelgate.errors import ConfigError, ReviewerError
from tests.helpers import REPO, run_cli
from tests.review.conftest import ReviewSource, review_items


def _reviewers(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "reviewers.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_reviewers_file_roles_and_token(tmp_path: Path) -> None:
    stored = hash_token("correct horse")
    assert "correct horse" not in stored and verify_token("correct horse", stored)
    assert not verify_token("wrong", stored) and not verify_token("x", "garbage")
    path = _reviewers(
        tmp_path,
        f"""\
        token_hash = "{stored}"
        [[reviewers]]
        name = "Ana Lima"
        email = "ana@example.com"
        [[reviewers]]
        name = "Vic"
        role = "viewer"
        """,
    )
    directory = load_directory(path)
    assert directory is not None and directory.names == ["Ana Lima", "Vic"] and directory.needs_token
    assert directory.sign_in("Ana Lima", "correct horse") == Reviewer("Ana Lima", "reviewer", "token")
    assert not directory.sign_in("Vic", "correct horse").can_decide
    with pytest.raises(ReviewerError, match="wrong or missing shared token"):
        directory.sign_in("Ana Lima", "nope")
    with pytest.raises(ReviewerError, match="not in"):
        directory.sign_in("Mallory", "correct horse")
    assert directory.for_login("ANA@example.com", "A. Lima") == Reviewer("Ana Lima", "reviewer", "oidc")
    assert directory.for_login("eve@example.com", "Eve").role == "viewer"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('token_hash = "plain-token"\n[[reviewers]]\nname = "A"\n', "never the token"),
        ('[[reviewers]]\nname = "A"\nrole = "admin"\n', "role 'admin' is unknown"),
        ('[[reviewers]]\nname = "A"\n[[reviewers]]\nname = "A"\n', "listed twice"),
        ('[[reviewers]]\nname = ""\n', "give a name"),
        ('[[reviewers]]\nname = "A"\npassword = "x"\n', "unknown key"),
        ("reviewers = []\n", "at least one person"),
        ("[[reviewers]\n", "not a readable TOML"),
    ],
)
def test_bad_reviewers_files_fail_with_one_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_directory(_reviewers(tmp_path, text))


def test_reviewers_file_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LABELGATE_REVIEWERS", raising=False)
    assert load_directory() is None  # nothing configured: typed names
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    _reviewers(home, '[[reviewers]]\nname = "A"\n')
    directory = load_directory()
    assert directory is not None and directory.path == home / "reviewers.toml"
    monkeypatch.setenv("LABELGATE_REVIEWERS", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="no such reviewers file"):
        load_directory()


def test_images_are_confined_size_checked_and_never_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "data"
    (root / "images").mkdir(parents=True)
    Image.new("RGB", (200, 100), (90, 90, 90)).save(root / "images" / "a.png")
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (tmp_path / "secret.png").write_bytes(b"x")
    dataset = str(root / "annotations.json")
    loaded = load_image(dataset, "a.png")
    assert loaded.image is not None and loaded.image.size == (200, 100)
    assert "outside" in (load_image(dataset, "../secret.png").problem or "") or "climbs" in (
        load_image(dataset, "../secret.png").problem or ""
    )
    assert "absolute" in (load_image(dataset, "/etc/passwd").problem or "")
    assert "not found" in (load_image(dataset, "nope.png").problem or "")
    assert load_image(dataset, "broken.png").problem
    assert load_image(dataset, None).problem == "this item has no image file"
    monkeypatch.setenv("LABELGATE_MAX_IMAGE_PIXELS", "1000")
    assert "over the limit" in (load_image(dataset, "a.png").problem or "")


def test_images_are_found_where_the_reader_found_them_and_turned_as_displayed(tmp_path: Path) -> None:
    """COCO's annotations/instances_val2017.json beside val2017/: the screen looks where the run did."""
    import json

    root = tmp_path / "coco"
    (root / "annotations").mkdir(parents=True)
    (root / "val2017").mkdir()
    photo = Image.new("RGB", (64, 32), (200, 10, 10))
    exif = photo.getexif()
    exif[0x0112] = 6  # stored 64 x 32, displayed turned: 32 x 64
    photo.save(root / "val2017" / "a.jpg", exif=exif)
    document = {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 32, "height": 64}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 10, 10]}],
        "categories": [{"id": 1, "name": "car"}],
    }
    annotations = root / "annotations" / "instances_val2017.json"
    annotations.write_text(json.dumps(document), encoding="utf-8")
    loaded = load_image(str(annotations), "val2017/a.jpg", dataset_format="coco")
    assert loaded.problem is None and loaded.image is not None
    assert loaded.image.size == (32, 64)


@pytest.mark.parametrize(("declared", "shown"), [((32, 64), (32, 64)), ((64, 32), (64, 32)), ((None, None), (32, 64))])
def test_pictures_are_shown_in_the_frame_whose_size_the_item_declares(
    tmp_path: Path, declared: tuple[int | None, int | None], shown: tuple[int, int]
) -> None:
    """Boxes of an item declaring the stored size of a turned photo (Label Studio's COCO export
    does) are on the stored pixels: the screen and the report's thumbnails leave it unturned."""
    from ingest.paths import DatasetRoot
    from reports.thumbs import Box as ThumbBox
    from reports.thumbs import Thumbnailer

    photo = Image.new("RGB", (64, 32), (200, 10, 10))
    exif = photo.getexif()
    exif[0x0112] = 6  # stored 64 x 32, displayed turned: 32 x 64
    photo.save(tmp_path / "a.jpg", exif=exif)
    width, height = declared
    loaded = load_image(str(tmp_path / "ann.json"), "a.jpg", width=width, height=height)
    assert loaded.image is not None and loaded.image.size == shown
    thumb = Thumbnailer(DatasetRoot(tmp_path)).image("a.jpg", width, height, [ThumbBox("1", 1, 1, 5, 5)], "1")
    assert thumb is not None and thumb.note is None and (thumb.width, thumb.height) == shown


def test_boxes_are_drawn_with_the_flagged_one_highlighted() -> None:
    image = Image.new("RGB", (640, 480), (128, 128, 128))
    boxes = [Box("1", "car", 100, 100, 200, 150), Box("2", "bus", 400, 200, 100, 100), Box("3", "car", 10, 10, 2, 2)]
    colors = class_colors(["car", "bus"], ["car", "bus"])
    assert colors["car"] != colors["bus"] and HIGHLIGHT not in colors.values()
    drawn = draw_boxes(image, boxes, colors, flagged=["2", "3"], side=1280)
    assert drawn.size == (1280, 960)
    red = tuple(int(HIGHLIGHT[i : i + 2], 16) for i in (1, 3, 5))
    car = tuple(int(colors["car"][i : i + 2], 16) for i in (1, 3, 5))
    pixels = [drawn.getpixel((x, y)) for x in range(0, 1280, 2) for y in range(0, 960, 2)]
    assert pixels.count(red) > 100 and pixels.count(car) > 100
    assert drawn.getpixel((10, 900)) != (128, 128, 128)  # dimmed away from the flagged boxes
    assert image.getpixel((10, 470)) == (128, 128, 128)  # the original is untouched


def test_span_html_escapes_everything() -> None:
    text = 'Say <b>"hi"</b> & <script>x</script>'
    out = spans_html(text, [Span("s1", 4, 15, "<img src=x>")], {"<img src=x>": "#4363D8"}, flagged=["s1"])
    assert "<script>" not in out and "<b>" not in out and "<img" not in out
    assert "&lt;script&gt;" in out and "&lt;img src=x&gt;" in out and "&amp;" in out


def test_cli_lists_decisions_and_findings_show_them(image_run: ReviewSource) -> None:
    item_id = review_items(image_run.db, image_run.run_id)[0]
    digest = load_item(image_run.db, image_run.run_id, item_id).bound_hash
    record_decision(
        image_run.db, image_run.run_id, item_id, reviewer=Reviewer("Ana"), decision="reject", expected_hash=digest
    )
    runner = CliRunner()
    listed = runner.invoke(cli.app, ["reviews", "latest", "--db", str(image_run.db), "--json"])
    assert listed.exit_code == 0, listed.output
    assert '"human_decision": "reject"' in listed.stdout and '"reviewer": "Ana"' in listed.stdout
    table = runner.invoke(cli.app, ["findings", "latest", "--db", str(image_run.db), "--item", item_id])
    assert table.exit_code == 0 and "reject (Ana)" in table.stdout
    empty = runner.invoke(cli.app, ["reviews", "latest", "--db", str(image_run.db), "--overrides", "--csv"])
    assert empty.exit_code == 0 and "human_decision" in empty.stdout.splitlines()[0]


def test_cli_review_fails_in_one_line_and_hashes_tokens(tmp_path: Path) -> None:
    missing = run_cli("review", "--db", tmp_path / "none.duckdb")
    assert missing.code == 1 and missing.stderr.startswith("error: ") and "no such database" in missing.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "app.cli", "review", "--hash-token"],
        input="a-long-shared-token\n",
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    line = proc.stdout.strip().splitlines()[-1]
    assert line.startswith('token_hash = "scrypt$') and verify_token("a-long-shared-token", line.split('"')[1])


def test_the_screen_holds_no_connection_and_waits_for_a_batch_writer(
    image_run: ReviewSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit.testing.v1 import AppTest

    item_id = review_items(image_run.db, image_run.run_id)[0]
    monkeypatch.setenv("LABELGATE_DB", str(image_run.db))
    at = AppTest.from_file(str(REPO / "app" / "review_app.py"), default_timeout=30)
    at.query_params.update({"run": image_run.run_id, "item": item_id})
    at.run()
    assert not at.exception
    # another process (a batch run) can take the write lock right after a render ...
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time, duckdb; con = duckdb.connect(sys.argv[1]); con.execute('BEGIN'); "
            "print('locked', flush=True); time.sleep(1.0); con.execute('COMMIT'); con.close()",
            str(image_run.db),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    # ... and a decision made meanwhile waits for it instead of failing
    digest = load_item_when_free(image_run, item_id)
    start = time.monotonic()
    record_decision(
        image_run.db, image_run.run_id, item_id, reviewer=Reviewer("Ana"), decision="accept", expected_hash=digest
    )
    holder.wait(timeout=30)
    assert holder.returncode == 0 and time.monotonic() - start < 30


def load_item_when_free(run: ReviewSource, item_id: str) -> str:
    return load_item(run.db, run.run_id, item_id).bound_hash
