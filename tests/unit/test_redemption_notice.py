"""What a Liquity v2 trove's redemption notice says: the debt in front, the safer rate and its cost, or why none."""

from __future__ import annotations

from core.watch.notices import AlertItem, redemption_text

BASE = {"event": "redemption-risk", "front": 5002.4, "share": 0.125, "line": 0.3, "branch": "WETH", "rate": 0.05,
        "debt": 15_000.0, "safer_share": 0.6}


def test_a_safer_rate_is_given_with_its_yearly_cost_and_the_fee_now():
    text = redemption_text("#1", {**BASE, "safer_rate": 0.081, "safer_fee": 20.981})
    assert "only 5,002 BOLD (12.5% of the WETH branch's debt) stands before it" in text
    assert "from 5.00% to 8.10% would put at least 60% in front: 465 BOLD a year more, plus 20.98 BOLD now" in text


def test_no_fee_once_the_last_change_is_a_week_old():
    assert "and no fee now" in redemption_text("#1", {**BASE, "safer_rate": 0.081, "safer_fee": 0.0})


def test_when_no_rate_within_reach_helps_it_says_so():
    text = redemption_text("#1", {**BASE, "front": 0.2, "share": 0.0, "safer_rate": -1.0, "safer_fee": None})
    assert "no debt (0.0% of the WETH branch's debt)" in text and "No rate among the next troves up" in text


def test_over_says_how_much_stands_in_front_again():
    text = redemption_text("#1", {**BASE, "event": "redemption-clear", "front": 25_000.0, "share": 0.625})
    assert text == "#1: 25,000 BOLD (62.5% of the WETH branch's debt) now stands before it in redemption order, above your 30.0% line."
    assert AlertItem("redemption-clear", 0, "#1", text).label == "REDEMPTION RISK OVER"
