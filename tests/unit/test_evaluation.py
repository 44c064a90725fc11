"""The array evaluator agrees with the pure math and the pure rules, in full and incremental ticks."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.lending import risk
from core.watch.alerts import AlertState, Policy, decide
from core.watch.evaluation import PAR, Evaluator

ASSETS = ["ETH", "BTC", "SOL", "LINK", "USDC"]


def random_book(rng: random.Random, n: int):
    """n positions with 1-3 collateral legs and 0-2 debt legs, as (collateral, debt, warn, danger)."""
    book = {}
    for row_id in range(1, n + 1):
        coll = [(a, rng.uniform(0.1, 100) * rng.uniform(0.5, 0.95)) for a in rng.sample(ASSETS[:4], rng.randint(1, 3))]
        debt = [(a, rng.uniform(10, 50_000)) for a in rng.sample(["USDC", PAR, "ETH"], rng.randint(0, 2))]
        book[row_id] = (coll, debt, 1.5, 1.2)
    return book


def prices_for(rng):
    return {"ETH": rng.uniform(1000, 4000), "BTC": rng.uniform(20_000, 90_000), "SOL": rng.uniform(10, 200),
            "LINK": rng.uniform(2, 40), "USDC": rng.uniform(0.98, 1.02)}


def reference_hf(coll, debt, prices):
    p = {**prices, PAR: 1.0}
    e = risk.Exposure(tuple(risk.CollateralLeg(a, w, p[a], 1.0, 1.0) for a, w in coll),
                      tuple(risk.DebtLeg(a, amt, p[a]) for a, amt in debt))
    return risk.health_factor(e)


def test_health_factors_match_the_pure_math_after_many_ticks():
    rng = random.Random(3)
    book = random_book(rng, 300)
    ev = Evaluator()
    for row_id, (coll, debt, warn, danger) in book.items():
        ev.put(row_id, coll, debt, warn, danger)
    prices = prices_for(rng)
    for tick in range(60):
        moved = rng.choice([["ETH"], ["BTC", "SOL"], ASSETS, []])
        for a in moved:
            prices[a] *= rng.uniform(0.9, 1.1)
        ev.evaluate(1_700_000_000 + tick * 60, prices)
        for row_id in rng.sample(list(book), 20):
            coll, debt, _, _ = book[row_id]
            assert ev.health(row_id) == pytest.approx(reference_hf(coll, debt, prices), rel=1e-9)


def test_only_positions_holding_the_moved_asset_are_recomputed():
    ev = Evaluator()
    ev.put(1, [("ETH", 8.3)], [("USDC", 15000)], 1.5, 1.2)
    ev.put(2, [("BTC", 1.0)], [("USDC", 10000)], 1.5, 1.2)
    ev.evaluate(0, {"ETH": 3000, "BTC": 60000, "USDC": 1})
    for _ in range(300):  # past the periodic full recomputation
        ev.evaluate(0, {"ETH": 3000, "BTC": 60000, "USDC": 1})
    touched = ev.reprice({"ETH": 2900, "BTC": 60000, "USDC": 1}, set())
    assert list(touched) == [0]


def test_changes_removals_and_the_frozen():
    ev = Evaluator()
    ev.put(1, [("ETH", 8.3)], [("USDC", 15000)], 1.5, 1.2)
    ev.evaluate(0, {"ETH": 3000, "USDC": 1})
    assert ev.health(1) == pytest.approx(1.66)
    ev.put(1, [("ETH", 16.6)], [("USDC", 15000)], 1.5, 1.2)  # a deposit
    ev.evaluate(60, {"ETH": 3000, "USDC": 1})
    assert ev.health(1) == pytest.approx(3.32)
    assert ev.evaluate(120, {"ETH": 500, "USDC": 1}, untrusted={"ETH"}) == []  # frozen: no decision
    ev.remove(1)
    assert ev.evaluate(180, {"ETH": 500, "USDC": 1}) == []


def test_a_new_position_is_learned_quietly_then_warned():
    ev = Evaluator()
    ev.put(7, [("ETH", 8.3)], [("USDC", 15000)], 1.5, 1.2)
    [first] = ev.evaluate(0, {"ETH": 3000, "USDC": 1})
    assert first.message is None and first.state.level == 0
    ev.apply([first])
    [second] = ev.evaluate(60, {"ETH": 2000, "USDC": 1})
    assert second.message == "worse" and second.state.level == 2


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0.5, 2.5), st.integers(-1, 3), st.integers(0, 7200), st.booleans(), st.booleans()),
                min_size=1, max_size=40))
def test_the_bulk_filter_misses_nothing_the_rules_would_do(cases):
    """Every position the rules would change or message is among the evaluator's decisions, and nothing else is."""
    now = 1_700_100_000.0
    ev = Evaluator()
    expected = {}
    for row_id, (hf, level, ago, snoozed, muted) in enumerate(cases, start=1):
        state = AlertState(level, now - ago, now - ago, max(level, 0))
        # collateral weight hf * 1000 against 1000 of debt gives exactly this health factor
        ev.put(row_id, [("ETH", hf * 1000 / 2000)], [("USDC", 1000.0)], 1.5, 1.2, state,
               now + 3600 if snoozed else 0.0, muted)
        new, message = decide(state, ev_hf := (hf * 1000 / 2000) * 2000 / 1000, 1.5, 1.2, now, Policy(), snoozed, muted)
        if new != state or message:
            expected[row_id] = (new, message)
    decisions = ev.evaluate(now, {"ETH": 2000.0, "USDC": 1.0})
    got = {d.row_id: (d.state, d.message) for d in decisions}
    assert set(got) == set(expected)
    for row_id, (state, message) in expected.items():
        assert got[row_id][1] == message
        assert got[row_id][0].level == state.level


def test_no_debt_is_never_warned():
    ev = Evaluator()
    ev.put(1, [("ETH", 1.0)], [], 1.5, 1.2)
    decisions = ev.evaluate(0, {"ETH": 1.0})
    assert all(d.message is None for d in decisions) and math.isinf(ev.health(1))


STEP_KINDS = ["move", "move", "move", "wait", "distrust", "trust", "snooze", "unsnooze", "mute", "unmute", "deposit"]


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 2**32 - 1),
       st.lists(st.tuples(st.sampled_from(STEP_KINDS), st.sampled_from(ASSETS[:4]),
                          st.sampled_from([0.6, 0.8, 0.93, 0.99, 1.02, 1.08, 1.25, 1.6]), st.integers(0, 70),
                          st.integers(1, 6)), min_size=1, max_size=40))
def test_incremental_ticks_pick_every_position_the_rules_would_change(seed, steps):
    """Tick after tick on the incremental path, the decisions are exactly what decide() says for every position."""
    rng = random.Random(seed)
    prices = prices_for(rng)
    book, options = {}, {}
    for row_id in range(1, 7):
        coll = [(a, rng.uniform(0.1, 10)) for a in rng.sample(ASSETS[:4], rng.randint(1, 2))]
        value = sum(w * prices[a] for a, w in coll)
        debt = [(rng.choice(["USDC", PAR]), value / rng.uniform(0.9, 2.2))]  # health factors around the levels
        book[row_id] = (coll, debt)
        options[row_id] = (0.0, False)  # snoozed until, muted
    ev = Evaluator()
    for row_id, (coll, debt) in book.items():
        ev.put(row_id, coll, debt, 1.5, 1.2)
    now = 1_700_000_000.0
    ref = {row_id: AlertState() for row_id in book}
    untrusted: set[str] = set()
    first = True
    for kind, asset, factor, minutes, row_id in [("wait", "ETH", 1.0, 0, 1)] + steps:
        now += minutes * 60
        coll, debt = book[row_id]
        snoozed_until, muted = options[row_id]
        if kind == "move":
            prices[asset] *= factor
        elif kind == "distrust" and not untrusted:
            untrusted = {asset}
        elif kind == "trust":
            untrusted = set()
        elif kind in ("snooze", "unsnooze", "mute", "unmute", "deposit"):
            if kind == "snooze":
                snoozed_until = now + 3600
            elif kind == "unsnooze":
                snoozed_until = 0.0
            elif kind in ("mute", "unmute"):
                muted = kind == "mute"
            else:
                book[row_id] = coll, debt = [(a, w * factor) for a, w in coll], debt
            options[row_id] = (snoozed_until, muted)
            ev.put(row_id, coll, debt, 1.5, 1.2, snoozed_until=snoozed_until, muted=muted)
        decisions = ev.evaluate(now, {a: p for a, p in prices.items() if a not in untrusted}, untrusted)
        if not first:
            assert ev._ticks_since_full > 0, "this property is about the incremental path"
        first = False
        expected = {}
        for rid, (coll, debt) in book.items():
            if any(a in untrusted for a, _ in coll + debt):
                continue  # frozen: no decision at all
            until, mute = options[rid]
            new, message = decide(ref[rid], ev.health(rid), 1.5, 1.2, now, Policy(), until > now, mute)
            if new != ref[rid] or message:
                expected[rid] = (new, message)
                ref[rid] = new
        assert {d.row_id: (d.state, d.message) for d in decisions} == expected
        ev.apply(decisions)


def test_an_all_clear_held_back_by_a_mute_goes_out_on_unmute_without_a_price_move():
    ev = Evaluator()
    ev.put(1, [("ETH", 1.0)], [("USDC", 1000.0)], 1.5, 1.2)
    for now, eth in ((0, 1600), (60, 1100)):  # learned at 1.6, then danger: a warning goes out
        ev.apply(ev.evaluate(now, {"ETH": eth, "USDC": 1}))
    ev.put(1, [("ETH", 1.0)], [("USDC", 1000.0)], 1.5, 1.2, muted=True)
    ev.apply(ev.evaluate(120, {"ETH": 1700, "USDC": 1}))  # safe again, while muted: nothing said
    assert ev.evaluate(180, {"ETH": 1700, "USDC": 1}) == []
    ev.put(1, [("ETH", 1.0)], [("USDC", 1000.0)], 1.5, 1.2)  # warnings back on; ETH has not moved
    [d] = ev.evaluate(240, {"ETH": 1700, "USDC": 1})
    assert d.message == "safe" and d.state.told == 0
