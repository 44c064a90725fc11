"""Mining math against hand-computed vectors: the subsidy across halvings, hashprice, a fleet's day, and the month
a loan backed by mined coins reaches its margin call."""

from __future__ import annotations

import math

import pytest

from core.market import mining as m

NOW = 1_796_000_000.0
NET = m.Network(difficulty=1e14, height=900_000, fees_per_block=0.05, retarget_change=0.0, retarget_at=NOW + 7 * 86_400)
FLEET = m.Fleet(hashrate_th=200, efficiency_j_th=17.5, power_usd_kwh=0.06, pool_fee=0.02)


def test_the_subsidy_halves_every_210000_blocks():
    assert m.subsidy(0) == 50 and m.subsidy(839_999) == 6.25 and m.subsidy(840_000) == 3.125
    assert m.subsidy(1_049_999) == 3.125 and m.subsidy(1_050_000) == 1.5625
    assert m.subsidy(64 * 210_000) == 0 and m.subsidy(33 * 210_000) == 0.0  # 50 BTC in sats runs out of bits
    assert m.subsidy(32 * 210_000) == 1e-8  # the last sat


def test_hashprice_at_a_known_difficulty():
    # 86,400 x 10^12 / (10^14 x 2^32) = 2.0116567e-7 blocks' share a TH a day, x (3.125 + 0.05) BTC
    assert NET.btc_per_th_day() == pytest.approx(6.387010e-7, rel=1e-6)
    e = m.economics(FLEET, NET, 100_000)
    assert e.hashprice_usd * 1000 == pytest.approx(63.8701, rel=1e-5)  # USD per PH/s a day
    assert e.power_usd == pytest.approx(5.04)  # 17.5 J/TH x 24 h / 1000 x $0.06 x 200 TH/s
    assert e.revenue_usd == pytest.approx(12.51854, rel=1e-5)  # after the 2 % pool fee
    assert e.break_even_price == pytest.approx(40_260.6, rel=1e-5)  # 0.0252 / (6.38701e-7 x 0.98)


def test_the_next_halving():
    height, at = NET.next_halving(NOW)
    assert height == 1_050_000 and at == NOW + 150_000 * 600


def test_the_month_a_loan_reaches_its_margin_call_without_pledges():
    # 1 BTC against $60,000 at 12 % (daily accrual), margin call at 70 %: 0.6 x (1 + 0.12/365)^days = 0.7 after
    # 468.96 days, in month 16 of 30-day months
    loan = m.Loan(1.0, 60_000, 0.12, 0.70, 0.80, 0.50)
    rows = m.project(FLEET, NET, 100_000, NOW, loan, pledge=0.0, months=24)
    assert m.first_margin_call(rows, loan) == 16
    assert rows[0].debt_usd == pytest.approx(60_000 * (1 + 0.12 / 365) ** 30)
    assert rows[0].margin_call_price == pytest.approx(rows[0].debt_usd / 0.7)
    assert m.first_margin_call(rows[:12], loan) is None
    month16 = rows[15]
    assert month16.top_up_btc == pytest.approx(month16.debt_usd / (0.5 * 100_000) - 1)


def test_pledging_what_the_fleet_keeps_pushes_the_margin_call_back():
    loan = m.Loan(1.0, 60_000, 0.12, 0.70, 0.80, 0.50)
    rows = m.project(FLEET, NET, 100_000, NOW, loan, pledge=1.0, months=24)
    kept = (12.51854 - 5.04) / 100_000 * 30  # BTC a month: revenue less power, at $100,000
    assert rows[0].mined_btc == pytest.approx(kept, rel=1e-4) and rows[0].pledged_btc == rows[0].mined_btc
    # LTV after t months = 0.6 x 1.009912^t / (1 + 0.0022436 t): 69.93 % after 20, 70.47 % after 21
    assert m.first_margin_call(rows, loan) == 21


def test_difficulty_rises_at_each_retarget_and_the_halving_comes_at_its_height():
    net = m.Network(1e14, 1_049_000, 0.05, 0.05, NOW + 86_400)
    rows = m.project(FLEET, net, 100_000, NOW, months=3)
    assert rows[0].halving and not rows[1].halving  # 1,000 blocks to go: within the first week
    assert rows[0].difficulty == pytest.approx(1e14 * 1.05**3)  # retargets on days 1, 15 and 29
    assert rows[1].mined_btc < rows[0].mined_btc / 1.5  # half the subsidy and more difficulty
    capped = m.project(FLEET, m.Network(1e14, 900_000, 0.4, 0.4, NOW + 86_400), 100_000, NOW, months=1)
    assert capped[0].difficulty == pytest.approx(1e14 * 1.1**3)  # a +40 % estimate counts as +10 % per retarget


def test_a_fleet_at_a_loss_keeps_nothing():
    costly = m.Fleet(200, 30, 0.5, 0.02)
    e = m.economics(costly, NET, 50_000)
    assert e.margin_usd < 0 and not math.isinf(e.break_even_price)
    assert m.project(costly, NET, 50_000, NOW, months=1)[0].mined_btc == 0
