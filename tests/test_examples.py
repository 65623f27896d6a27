"""Every shipped example rulebook compiles and passes its own golden examples."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.golden import run_examples
from engine.run import compile_for
from tests.helpers import REPO

RULEBOOKS = sorted((REPO / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", RULEBOOKS, ids=[p.name for p in RULEBOOKS])
def test_example_rulebook_passes_its_golden_examples(path: Path) -> None:
    compiled = compile_for(path)
    results = run_examples(compiled)
    assert results, f"{path.name} has no golden examples"
    failures = [f"{r.name}: {r.explain()}" for r in results if not r.passed]
    assert not failures, failures


def test_examples_cover_every_kind_and_cite_their_guideline() -> None:
    kinds = {compile_for(p).rulebook.applies_to for p in RULEBOOKS}
    assert kinds == {"image_boxes", "text_classification", "text_spans"}
    for path in RULEBOOKS:
        rulebook = compile_for(path).rulebook
        assert rulebook.guideline.url, path.name
        assert all(rule.clause for rule in rulebook.rules)
