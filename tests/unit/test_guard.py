"""The price guard's rules, one by one, on a pure state machine."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.market.prices.guard import Observation, PriceGuard, Trust

NOW = 1_700_000_000.0


def obs(*pairs, at=NOW):
    return [Observation(src, price, at) for src, price in pairs]


def test_a_single_fresh_price_is_trusted():
    g = PriceGuard()
    state = g.update(NOW, "ETH", obs(("coingecko", 3000.0)), {})
    assert state.trust is Trust.TRUSTED and state.price == 3000.0 and state.sources == ("coingecko",)


def test_sources_within_five_percent_give_their_median():
    g = PriceGuard()
    state = g.update(NOW, "ETH", obs(("coingecko", 3000.0), ("binance", 3030.0), ("coinbase", 3010.0)), {})
    assert state.trust is Trust.TRUSTED and state.price == 3010.0


def test_two_sources_ten_percent_apart_are_not_trusted():
    g = PriceGuard()
    g.update(NOW, "ETH", obs(("coingecko", 3000.0)), {})
    state = g.update(NOW + 60, "ETH", obs(("coingecko", 3000.0), ("binance", 3300.0), at=NOW + 60), {})
    assert state.trust is Trust.DEGRADED and "disagree by 10.0%" in state.reason
    assert state.price == 3000.0  # the last good price is kept


def test_an_outlier_among_three_is_outvoted():
    g = PriceGuard()
    state = g.update(NOW, "ETH", obs(("coingecko", 3000.0), ("binance", 3010.0), ("coinbase", 4500.0)), {})
    assert state.trust is Trust.TRUSTED and state.price == 3005.0 and "coinbase" not in state.sources


def test_a_jump_over_fifty_percent_needs_a_second_source():
    g = PriceGuard()
    g.update(NOW, "ETH", obs(("coingecko", 3000.0)), {})
    state = g.update(NOW + 60, "ETH", obs(("coingecko", 4800.0), at=NOW + 60), {})
    assert state.trust is Trust.DEGRADED and "jumped +60.0%" in state.reason and state.price == 3000.0
    state = g.update(NOW + 120, "ETH", obs(("coingecko", 4800.0), ("binance", 4810.0), at=NOW + 120), {})
    assert state.trust is Trust.TRUSTED and state.price == 4805.0


def test_a_jump_that_persists_is_accepted_after_three_checks():
    g = PriceGuard()
    g.update(NOW, "LINK", obs(("replay", 3.0)), {})
    for i in (1, 2):
        assert g.update(NOW + 60 * i, "LINK", obs(("replay", 0.5), at=NOW + 60 * i), {}).trust is Trust.DEGRADED
    assert g.update(NOW + 180, "LINK", obs(("replay", 0.5), at=NOW + 180), {}).trust is Trust.TRUSTED


def test_a_one_tick_wick_is_rejected_and_forgotten():
    g = PriceGuard()
    g.update(NOW, "LINK", obs(("replay", 3.06)), {})
    assert g.update(NOW + 60, "LINK", obs(("replay", 0.0001), at=NOW + 60), {}).trust is Trust.DEGRADED
    state = g.update(NOW + 120, "LINK", obs(("replay", 2.47), at=NOW + 120), {})
    assert state.trust is Trust.TRUSTED and state.price == 2.47 and state.pending is None


@pytest.mark.parametrize("at, words", [(NOW + 3600, "in the future"), (NOW - 3 * 3600, "h old")])
def test_prices_from_the_future_or_hours_old_are_refused(at, words):
    g = PriceGuard()
    state = g.update(NOW, "ETH", obs(("coingecko", 3000.0), at=at), {})
    assert state.trust is Trust.UNKNOWN and words in state.reason


def test_failures_are_named_when_nothing_answers():
    g = PriceGuard()
    g.update(NOW, "ETH", obs(("coingecko", 3000.0)), {})
    state = g.update(NOW + 60, "ETH", [], {"coingecko": "CoinGecko answered with HTTP 500"})
    assert state.trust is Trust.DEGRADED and "HTTP 500" in state.reason
    assert g.degraded(NOW + 60) == {"ETH": state.reason}


def test_a_kept_price_freezes_after_four_hours():
    g = PriceGuard()
    g.update(NOW, "ETH", obs(("coingecko", 3000.0)), {})
    state = g.update(NOW + 60, "ETH", [], {"coingecko": "down"})
    assert state.trust_at(NOW + 3600, g.frozen_after) is Trust.DEGRADED
    assert state.trust_at(NOW + 5 * 3600, g.frozen_after) is Trust.FROZEN
    assert "ETH" in g.degraded(NOW + 5 * 3600)


def test_recovery_clears_the_reason():
    g = PriceGuard()
    g.update(NOW, "ETH", obs(("coingecko", 3000.0)), {})
    g.update(NOW + 60, "ETH", [], {"coingecko": "down"})
    state = g.update(NOW + 120, "ETH", obs(("coingecko", 3010.0), at=NOW + 120), {})
    assert state.trust is Trust.TRUSTED and state.reason == "" and state.degraded_since is None
    assert g.degraded(NOW + 120) == {}


def test_a_broken_run_of_jumps_starts_counting_again():
    g = PriceGuard()
    g.update(NOW, "LINK", obs(("replay", 3.0)), {})
    for i, price in enumerate((0.5, 0.5, 9.0, 0.5, 0.5), start=1):  # 9.0 breaks the run of 0.5s
        assert g.update(NOW + 60 * i, "LINK", obs(("replay", price), at=NOW + 60 * i), {}).trust is Trust.DEGRADED
    assert g.update(NOW + 360, "LINK", obs(("replay", 0.5), at=NOW + 360), {}).trust is Trust.TRUSTED


# Mostly a few prices far apart, so runs of the same jump (and their confirmation) happen often.
prices = st.one_of(st.sampled_from([100.0, 101.0, 160.0, 161.0, 40.0, 250.0]),
                   st.floats(min_value=1e-6, max_value=1e7, allow_nan=False))


@settings(max_examples=300)
@given(st.lists(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), prices), max_size=3), min_size=1, max_size=30))
def test_a_trusted_price_always_passed_every_rule(ticks):
    g = PriceGuard()
    last_good = None
    history: list[tuple[bool, list[float]]] = []  # per tick: trusted?, the answers
    for i, tick in enumerate(ticks):
        now = NOW + 60 * i
        answers = {src: p for src, p in tick}  # one answer per source
        state = g.update(now, "X", obs(*answers.items(), at=now), {})
        if state.trust is Trust.TRUSTED:
            agreeing = [p for p in answers.values() if abs(p / state.price - 1) <= 0.05 + 1e-12]
            assert agreeing, "the trusted price is backed by at least one answer this tick"
            if len(answers) >= 2:
                assert len(agreeing) * 2 > len(answers)
            if last_good is not None and abs(state.price / last_good - 1) > 0.5 and len(agreeing) < 2:
                # A lone source's jump is taken only as the last of confirm_checks checks in a row,
                # each refused and each jumping from the same last good price.
                before = history[-(g.confirm_checks - 1):]
                assert len(before) == g.confirm_checks - 1
                for trusted, seen in before:
                    assert not trusted and any(abs(p / last_good - 1) > 0.5 for p in seen)
            last_good = state.price
        else:
            assert state.price == last_good
        history.append((state.trust is Trust.TRUSTED, list(answers.values())))
