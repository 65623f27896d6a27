"""Agreement between machine decisions and human review decisions: confusion matrix and Cohen's kappa.

Both raters' decisions are mapped to one binary outcome per item, ``pass`` or ``fail``:

- the machine's decision is ``scores.passed`` (the rulebook's verdict on the item's score,
  including judgment-based rules). Items sent to review keep this verdict: it is what the
  rules concluded before a person looked.
- the human decision is the item's current review (the latest in the audit log):
  ``accept`` → ``pass`` (the annotation is acceptable as submitted); ``reject`` → ``fail``;
  ``fix_label`` → ``fail`` (the annotation as submitted was wrong; a person corrected it).

Only items with both a machine decision and a review count. Cohen's kappa is
``(p_o - p_e) / (1 - p_e)``, with ``p_o`` the share of items where both agree and ``p_e``
the agreement expected by chance from each rater's own pass/fail shares.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

OUTCOMES = ("pass", "fail")
HUMAN_OUTCOME = {"accept": "pass", "reject": "fail", "fix_label": "fail"}


def machine_outcome(passed: bool) -> str:
    return "pass" if passed else "fail"


def confusion_matrix(pairs: Iterable[tuple[str, str]], labels: Sequence[str] = OUTCOMES) -> list[list[int]]:
    """Counts of (machine, human) pairs: rows are the machine's label, columns the human's."""
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for machine, human in pairs:
        matrix[index[machine]][index[human]] += 1
    return matrix


@dataclass(frozen=True)
class Kappa:
    n: int
    observed: float | None  # p_o: share of items on which both agree
    expected: float | None  # p_e: agreement expected by chance
    kappa: float | None  # None when undefined (no items, or p_e = 1: both used one label only)

    @property
    def strength(self) -> str:
        """Landis & Koch's (1977) words for the value."""
        if self.kappa is None:
            return "undefined"
        if self.kappa < 0:
            return "poor"
        for bound, word in ((0.2, "slight"), (0.4, "fair"), (0.6, "moderate"), (0.8, "substantial")):
            if self.kappa <= bound:
                return word
        return "almost perfect"


def cohen_kappa(matrix: Sequence[Sequence[int]]) -> Kappa:
    """Cohen's kappa of a square confusion matrix (rows: rater A, columns: rater B)."""
    n = sum(sum(row) for row in matrix)
    if n == 0:
        return Kappa(0, None, None, None)
    size = len(matrix)
    observed = sum(matrix[i][i] for i in range(size)) / n
    rows = [sum(matrix[i]) / n for i in range(size)]
    cols = [sum(matrix[r][j] for r in range(size)) / n for j in range(size)]
    expected = sum(rows[i] * cols[i] for i in range(size))
    if expected >= 1.0:
        return Kappa(n, observed, expected, None)
    return Kappa(n, observed, expected, (observed - expected) / (1.0 - expected))
