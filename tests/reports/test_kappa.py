"""Cohen's kappa and the confusion matrix, against examples computed by hand."""

from __future__ import annotations

import pytest

from reports.agreement import HUMAN_OUTCOME, cohen_kappa, confusion_matrix, machine_outcome


def test_kappa_matches_a_hand_computed_example() -> None:
    # 50 items. Rows: the machine; columns: the human.
    #                human pass   human fail
    #  machine pass      20            5        (25 machine passes)
    #  machine fail      10           15        (25 machine fails)
    #                   (30)         (20)
    pairs = [("pass", "pass")] * 20 + [("pass", "fail")] * 5 + [("fail", "pass")] * 10 + [("fail", "fail")] * 15
    matrix = confusion_matrix(pairs)
    assert matrix == [[20, 5], [10, 15]]
    # observed agreement p_o = (20 + 15) / 50 = 0.70
    # chance agreement   p_e = P(m=pass)·P(h=pass) + P(m=fail)·P(h=fail)
    #                        = (25/50)(30/50) + (25/50)(20/50) = 0.30 + 0.20 = 0.50
    # kappa = (p_o - p_e) / (1 - p_e) = (0.70 - 0.50) / 0.50 = 0.40
    result = cohen_kappa(matrix)
    assert result.n == 50
    assert result.observed == pytest.approx(0.70)
    assert result.expected == pytest.approx(0.50)
    assert result.kappa == pytest.approx(0.40)
    assert result.strength == "fair"


def test_kappa_second_example_unbalanced() -> None:
    # [[45, 15], [25, 15]]: n = 100, p_o = 0.60
    # p_e = (60/100)(70/100) + (40/100)(30/100) = 0.42 + 0.12 = 0.54
    # kappa = (0.60 - 0.54) / 0.46 = 0.1304...
    result = cohen_kappa([[45, 15], [25, 15]])
    assert result.expected == pytest.approx(0.54)
    assert result.kappa == pytest.approx(0.06 / 0.46)
    assert result.strength == "slight"


def test_kappa_edge_cases() -> None:
    assert cohen_kappa([[10, 0], [0, 5]]).kappa == pytest.approx(1.0)
    assert cohen_kappa([[0, 5], [5, 0]]).kappa == pytest.approx(-1.0)
    assert cohen_kappa([[0, 5], [5, 0]]).strength == "poor"
    empty = cohen_kappa([[0, 0], [0, 0]])
    assert (empty.n, empty.kappa, empty.strength) == (0, None, "undefined")
    one_label = cohen_kappa([[7, 0], [0, 0]])  # both raters said "pass" every time: p_e = 1
    assert one_label.observed == 1.0 and one_label.kappa is None


def test_decision_mapping() -> None:
    assert HUMAN_OUTCOME == {"accept": "pass", "reject": "fail", "fix_label": "fail"}
    assert (machine_outcome(True), machine_outcome(False)) == ("pass", "fail")
