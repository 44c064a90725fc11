"""Benchmark: one warning tick over 10k, 100k and 1M stored positions (mixed lenders, several legs, 50 assets).

For each size it stores the positions in a real SQLite file, loads them the way the bot does
(Monitor.load), takes a first look, then times:
  * the evaluation when every one of the 50 prices moved (reprice, bulk filter, rules), beside a
    numpy lower bound computing the same health factors from the same arrays in the same run;
  * the evaluation when one asset (ETH) moved, which should cost in proportion to its holders;
  * a whole monitor tick (evaluation, messages, one transaction).
Peak memory is the process's maximum resident set size.

    .venv/bin/python bench/evaluate.py [--sizes 10000,100000,1000000] [--ticks 5] [--engine sqlite,postgresql]

With --engine postgresql the positions live on a throwaway PostgreSQL server started for the run
(tests/pg.py: the machine's initdb, fsync on as an operator's would be), loaded through the same
Monitor.load (server-side cursors), and each tick commits there.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from core.lending.assets import AssetRegistry  # noqa: E402
from core.lending.models import Asset  # noqa: E402
from core.lending.protocols import Presets  # noqa: E402
from core.market.prices.feed import PriceFeed  # noqa: E402
from core.market.prices.guard import AssetState, Trust  # noqa: E402
from core.storage.store import Store  # noqa: E402
from core.watch.monitor import Monitor  # noqa: E402
from core.watch.outbox import Outbox  # noqa: E402
from tests.fakes import FakeClock  # noqa: E402

BASE = {"ETH": 3000.0, "WETH": 3000.0, "wstETH": 3500.0, "BTC": 60000.0, "WBTC": 60000.0, "SOL": 150.0, "BNB": 600.0,
        "LINK": 15.0, "XRP": 0.6, "ADA": 0.5, "DOGE": 0.15, "LTC": 80.0, "AVAX": 30.0, "DOT": 7.0, "TRX": 0.12, "TON": 5.0,
        "NEXO": 1.2, "rETH": 3300.0, "stETH": 2990.0, "USDC": 1.0}
EXTRA = [f"X{i}" for i in range(30)]  # synthetic assets to reach 50


def registry() -> AssetRegistry:
    bundled = AssetRegistry.bundled()
    return AssetRegistry([*bundled, *(Asset(s, s, source_ids=(("fake", s),)) for s in EXTRA)])


def shapes(rng: random.Random, extra_prices: dict[str, float]):
    """(protocol, market, overrides, collateral, debt) of one random position, borrowed to a health
    factor between 1.3 and 3 at today's prices (as real borrowers are: most are not in danger)."""
    k = rng.random()
    if k < 0.35:
        protocol, market, overrides, assets, debt_asset = "aave-v3", "core", "{}", rng.sample(["WETH", "WBTC", "wstETH"], rng.randint(1, 3)), "USDC"
    elif k < 0.45:
        protocol, market, overrides, assets, debt_asset = "compound-v3", "usdc", "{}", ["WETH"], "USDC"
    elif k < 0.55:
        protocol, market, overrides, assets, debt_asset = "maker", "ETH-A", "{}", ["WETH"], "DAI"
    elif k < 0.62:
        protocol, market, overrides, assets, debt_asset = "liquity-v1", "ETH", "{}", ["ETH"], "LUSD"
    elif k < 0.70:
        protocol, market, overrides, assets, debt_asset = "morpho", "market", '{"lltv": "0.86"}', ["WETH"], "USDC"
    elif k < 0.80:
        protocol = rng.choice(["nexo", "binance-loan"])
        market = "credit-line" if protocol == "nexo" else "flexible"
        overrides, assets, debt_asset = "{}", [rng.choice(["BTC", "ETH", "SOL", "BNB"])], rng.choice(["USDT", "USDC"])
    else:
        protocol, market, overrides = "custom", "custom", '{"lt": "0.8", "ltv": "0.6"}'
        assets, debt_asset = rng.sample(list(BASE)[5:17] + EXTRA, rng.randint(1, 3)), "USDC"
    prices = {**BASE, **extra_prices}
    coll = [(a, rng.uniform(1000, 100_000) / prices[a]) for a in assets]
    value = sum(amount * prices[a] for a, amount in coll)
    debt_usd = value * 0.8 / rng.uniform(1.3, 3.0)
    if protocol == "custom" and rng.random() < 0.3:  # some owe a volatile asset too
        debt = [("USDC", debt_usd * 0.7), ("ETH", debt_usd * 0.3 / prices["ETH"])]
    else:
        debt = [(debt_asset, debt_usd)]
    return protocol, market, overrides, [(a, f"{x:.6f}") for a, x in coll], [(a, f"{x:.6f}") for a, x in debt]


def store_positions(target, n: int, extra_prices: dict[str, float], seed: int = 1) -> None:
    """n positions written with bulk inserts (as if 5,000 users had registered them); COPY on PostgreSQL."""
    rng = random.Random(seed)
    store = Store(target)
    owners = [(f"bench:user:{i}", "bench", "user", str(i), 1, "") for i in range(5000)]
    batches: list[tuple[list, list]] = []
    positions: list[tuple] = []
    legs: list[tuple] = []
    for pid in range(1, n + 1):
        protocol, market, overrides, coll, debt = shapes(rng, extra_prices)
        positions.append((pid, f"bench:user:{pid % 5000}", pid, protocol, market, overrides, "", ""))
        legs += [(pid, "collateral", a, amt) for a, amt in coll] + [(pid, "debt", a, amt) for a, amt in debt]
        if len(legs) > 200_000:
            batches.append((positions, legs))
            positions, legs = [], []
    batches.append((positions, legs))
    if store.dialect == "postgresql":
        store.close()
        import psycopg

        with psycopg.connect(str(target)) as conn, conn.cursor() as cur:
            for sql, rows in [("COPY owners (key, platform, kind, external_id, next_number, created_at) FROM STDIN", owners)] + [
                    (sql, rows) for p, l in batches for sql, rows in
                    (("COPY positions (id, owner_key, number, protocol, market, overrides, created_at, updated_at) FROM STDIN", p),
                     ("COPY legs (position_id, side, asset, amount) FROM STDIN", l))]:
                with cur.copy(sql) as copy:
                    for row in rows:
                        copy.write_row(row)
            cur.execute("ANALYZE")
        return
    db = store.db
    db.executemany("INSERT INTO owners (key, platform, kind, external_id, next_number, created_at) VALUES (?, ?, ?, ?, ?, ?)", owners)
    for positions, legs in batches:
        db.executemany("INSERT INTO positions (id, owner_key, number, protocol, market, overrides, created_at, updated_at) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", positions)
        db.executemany("INSERT INTO legs (position_id, side, asset, amount) VALUES (?, ?, ?, ?)", legs)
    db.commit()
    store.close()


def set_prices(feed: PriceFeed, prices: dict[str, float], now: float) -> None:
    for s, p in prices.items():
        feed.guard.states[s] = AssetState(s, Trust.TRUSTED, p, now, now, "", ("fake",))


def drift(prices: dict[str, float], rng: random.Random, spread: float) -> None:
    """Every price but USDC's moves by a random factor within 1 +- spread."""
    for s in prices:
        if s != "USDC":
            prices[s] *= rng.uniform(1 - spread, 1 + spread)


def lower_bound(ev, price: np.ndarray) -> tuple[float, np.ndarray]:
    """The bare health-factor computation on the evaluator's own arrays."""
    n, c, d = ev.n, ev.coll, ev.debt
    t = time.perf_counter()
    num = np.bincount(c.pos[: c.m], weights=c.w[: c.m] * price[c.asset[: c.m]], minlength=n)
    den = np.bincount(d.pos[: d.m], weights=d.w[: d.m] * price[d.asset[: d.m]], minlength=n)
    with np.errstate(divide="ignore", invalid="ignore"):
        hf = num / den
    return time.perf_counter() - t, hf


def run(n: int, ticks: int, engine: str = "sqlite", server=None) -> dict:
    reg, presets = registry(), Presets.bundled()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db" if engine == "sqlite" else server.new_database()
        rng = random.Random(2)
        extra = {s: rng.uniform(1, 100) for s in EXTRA}
        t = time.perf_counter()
        store_positions(path, n, extra)
        stored = time.perf_counter() - t
        store = Store(path)
        clock = FakeClock()
        feed = PriceFeed([], reg, clock)
        monitor = Monitor(store, feed, reg, presets, clock, Outbox(store))
        t = time.perf_counter()
        loaded = monitor.load()
        load_s = time.perf_counter() - t
        ev = monitor.evaluator
        legs = ev.coll.m + ev.debt.m
        prices = {**BASE, **extra}
        set_prices(feed, prices, clock.now)
        t = time.perf_counter()
        import asyncio

        asyncio.run(monitor.tick())  # the first look: every position learned quietly
        first_s = time.perf_counter() - t

        all_moved, bounds, one_moved, rare_moved, ticks_s, decisions = [], [], [], [], [], []
        for _ in range(ticks):
            clock.advance(60)
            drift(prices, rng, 0.01)
            quotes = {s: p for s, p in prices.items()}
            t = time.perf_counter()
            made = ev.evaluate(clock.now, quotes)
            all_moved.append(time.perf_counter() - t)
            ev.apply(made)
            decisions.append(len(made))
            price_vec = ev.price.copy()
            lb, hf = lower_bound(ev, price_vec)
            bounds.append(lb)
            i = int(rng.randrange(ev.n))
            assert abs(hf[i] - ev.health(int(ev.row_id[i]))) <= 1e-9 * max(1.0, abs(hf[i])) or not np.isfinite(hf[i])
            clock.advance(60)
            prices["ETH"] *= 1.001
            prices["WETH"] = prices["ETH"]
            t = time.perf_counter()
            ev.apply(ev.evaluate(clock.now, dict(prices)))
            one_moved.append(time.perf_counter() - t)
            clock.advance(60)
            prices["LINK"] *= 1.001
            t = time.perf_counter()
            ev.apply(ev.evaluate(clock.now, dict(prices)))
            rare_moved.append(time.perf_counter() - t)
            clock.advance(60)
            drift(prices, rng, 0.002)
            set_prices(feed, prices, clock.now)
            t = time.perf_counter()
            asyncio.run(monitor.tick())
            ticks_s.append(time.perf_counter() - t)
        eth_legs = sum(len(legs_.of_asset(ev.assets[a], len(ev.assets))) for a in ("ETH", "WETH") for legs_ in (ev.coll, ev.debt))
        link_legs = sum(len(legs_.of_asset(ev.assets["LINK"], len(ev.assets))) for legs_ in (ev.coll, ev.debt))
        store.close()
        if engine != "sqlite":
            server.drop(path)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    med = statistics.median
    return {"engine": engine, "positions": n, "loaded": loaded, "legs": legs, "assets": len(ev.assets) - 1, "store_s": stored, "load_s": load_s,
            "first_look_s": first_s, "all_moved_ms": med(all_moved) * 1000, "lower_bound_ms": med(bounds) * 1000,
            "ratio": med(all_moved) / med(bounds), "one_moved_ms": med(one_moved) * 1000, "eth_legs": eth_legs,
            "rare_moved_ms": med(rare_moved) * 1000, "link_legs": link_legs,
            "tick_ms": med(ticks_s) * 1000, "decisions_per_tick": med(decisions), "peak_rss_mb": peak_mb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--ticks", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="one JSON line per size")
    parser.add_argument("--engine", default="sqlite", help="sqlite, postgresql, or both: sqlite,postgresql")
    args = parser.parse_args()
    server = None
    if "postgresql" in args.engine:
        from tests.pg import PostgresServer

        server = PostgresServer(durable=True)
        server.start()
    try:
        for engine in args.engine.split(","):
            for n in (int(x) for x in args.sizes.split(",")):
                report(run(n, args.ticks, engine, server), args.json)
    finally:
        if server is not None:
            server.stop()


def report(r: dict, as_json: bool) -> None:
    """Print one size's figures."""
    if as_json:
        print(json.dumps(r))
        return
    print(f"[{r['engine']}] {r['positions']:>9,} positions ({r['legs']:,} legs, {r['assets']} assets): "
          f"stored {r['store_s']:.1f} s, loaded {r['load_s']:.1f} s, first look {r['first_look_s']:.1f} s")
    print(f"          all 50 prices moved: evaluate {r['all_moved_ms']:.1f} ms vs numpy lower bound {r['lower_bound_ms']:.1f} ms "
          f"= {r['ratio']:.2f}x; {r['decisions_per_tick']:.0f} decisions/tick")
    print(f"          only ETH moved ({r['eth_legs']:,} legs hold ETH/WETH): evaluate {r['one_moved_ms']:.1f} ms; "
          f"only LINK moved ({r['link_legs']:,} legs): {r['rare_moved_ms']:.1f} ms")
    print(f"          whole monitor tick (evaluate + messages + one transaction): {r['tick_ms']:.1f} ms")
    print(f"          peak memory (max RSS so far): {r['peak_rss_mb']:,.0f} MB")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
