"""Docs match code: every field a condition can use and every setting is documented."""

from __future__ import annotations

from pathlib import Path

from labelgate.settings import SETTINGS
from rulebook.vocabulary import structural_fields
from scorers.measure import fields_for

DOCS = Path(__file__).resolve().parents[1]


def test_every_image_box_field_is_documented() -> None:
    text = (DOCS / "docs" / "rulebooks.md").read_text()
    for spec in [*structural_fields("image_boxes"), *fields_for("image_boxes")]:
        assert f"`{spec.path}`" in text, f"{spec.path} is not in docs/rulebooks.md"


def test_every_setting_is_in_the_readme() -> None:
    readme = (DOCS / "README.md").read_text()
    for setting in SETTINGS:
        assert setting.env_var in readme, setting.env_var
