"""Docs match code: every field a condition can use and every setting is documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from labelgate.settings import SETTINGS
from rulebook.vocabulary import structural_fields
from scorers.measure import fields_for

DOCS = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("kind", ["image_boxes", "text_classification", "text_spans"])
def test_every_field_is_documented_in_its_kinds_section(kind: str) -> None:
    text = (DOCS / "docs" / "rulebooks.md").read_text()
    start = text.index(f"## Fields for `{kind}`")
    end = text.find("\n## ", start + 1)
    section = text[start : end if end != -1 else len(text)]
    if kind == "text_spans":  # the spans section adds to the classification one
        start = text.index("## Fields for `text_classification`")
        section += text[start : text.index("\n## ", start + 1)]
    for spec in [*structural_fields(kind), *fields_for(kind)]:
        assert f"`{spec.path}`" in section, f"{spec.path} is not in the {kind} section of docs/rulebooks.md"


def test_every_setting_is_in_the_readme() -> None:
    readme = (DOCS / "README.md").read_text()
    for setting in SETTINGS:
        assert setting.env_var in readme, setting.env_var
