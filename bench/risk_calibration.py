"""Calibration of /risk: for every bundled day, a position that far from liquidation; how often a daily low of
the next 30 days reached the line, beside the chance the model gave it. Prints the tables of docs/risk.md."""

from __future__ import annotations

from core.market.volatility import calibrate

ASSETS = ("BTC", "ETH", "SOL", "BNB", "LINK")
DISTANCES = (0.10, 0.20, 0.30, 0.40, 0.50)
CRASHES = ("2020-03", "2021-05", "2022-06", "2022-11")


def table(title: str, rows) -> None:
    print(f"\n{title}\n| distance to liquidation | days | reached within 30 days | /risk said (mean) |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r.distance:.0%} | {r.cases:,} | {r.observed:.1%} | {r.predicted:.1%} |")


if __name__ == "__main__":
    table("Every bundled day (BTC, ETH, SOL, BNB, LINK; 2017-2026)", calibrate(ASSETS, DISTANCES))
    table("Days in the crash months 2020-03, 2021-05, 2022-06, 2022-11", calibrate(ASSETS, DISTANCES, months=CRASHES))
    for asset in ASSETS:
        table(f"{asset} alone", calibrate((asset,), DISTANCES))
