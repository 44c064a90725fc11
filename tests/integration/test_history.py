"""Price history: every tick for recent days, hourly candles beyond."""

from __future__ import annotations

from core.market.prices.history import PriceHistory

T0 = 1_700_000_000 // 3600 * 3600


def test_ticks_fold_into_hourly_candles(store):
    h = PriceHistory(store.db)
    for i, price in enumerate([100.0, 120.0, 90.0, 110.0]):
        h.record(T0 + i * 600, {"ETH": price})
    row = store.db.execute("SELECT open, high, low, close FROM price_hourly WHERE asset = 'ETH'").fetchone()
    assert row == (100.0, 120.0, 90.0, 110.0)
    assert len(h.series("ETH", T0, T0 + 3600)) == 4


def test_old_ticks_are_pruned_but_hours_stay(store):
    h = PriceHistory(store.db, keep_ticks=2 * 86400)
    for i in range(3 * 24 * 6):  # three days, a tick every 10 minutes
        h.record(T0 + i * 600, {"ETH": 1000.0 + i})
    end = T0 + (3 * 24 * 6 - 1) * 600
    ticks = store.db.execute("SELECT count(*), min(ts) FROM price_ticks").fetchone()
    assert ticks[1] >= end - 2 * 86400 - 3600
    assert store.db.execute("SELECT count(*) FROM price_hourly").fetchone()[0] == 72
    series = h.series("ETH", T0, end)
    hourly_part = [t for t, _ in series if t < ticks[1]]
    assert hourly_part and all(t % 3600 == 0 for t in hourly_part)
    assert [t for t, _ in series] == sorted(t for t, _ in series)


def test_garbage_is_never_recorded(store):
    h = PriceHistory(store.db)
    h.record(T0, {"ETH": float("nan"), "BTC": -1.0, "SOL": float("inf")})
    assert store.db.execute("SELECT count(*) FROM price_ticks").fetchone()[0] == 0


def test_a_fresh_history_spans_what_was_seen_not_back_to_the_top_of_the_hour(store):
    h = PriceHistory(store.db)
    first = T0 + 33 * 60  # the first tick at 33 minutes past
    h.record(first, {"ETH": 3000.0})
    h.record(first + 1, {"ETH": 3001.0})
    series = h.series("ETH", first - 7 * 86400, first + 1)
    assert series == [(first, 3000.0), (first + 1, 3001.0)]  # one second, not 33 minutes


def test_pruned_hours_are_dated_at_their_end_and_never_overlap_the_ticks(store):
    h = PriceHistory(store.db, keep_ticks=2 * 86400)
    for i in range(3 * 24 * 6):
        h.record(T0 + i * 600, {"ETH": 1000.0 + i})
    end = T0 + (3 * 24 * 6 - 1) * 600
    first_tick = store.db.execute("SELECT min(ts) FROM price_ticks").fetchone()[0]
    series = h.series("ETH", T0, end)
    hours = [t for t, _ in series if t < first_tick]
    assert hours[0] == T0 + 3600  # the first hour's close, seen by its end: the span never starts before a real tick
    assert all(t <= first_tick for t in hours)
