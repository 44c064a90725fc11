"""The lenders' own rules to the last detail, each figure worked out here by hand as the contract does
(never by calling the code under test): draw fees, gas caps, exactly-1, minimums, rounding, ceilings."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.conftest import actor


def text(reply) -> str:
    return "\n".join([reply.title] + [f"{line.label} {line.value}" for s in reply.sections for line in s.lines]
                     + [reply.footer or ""])


async def ask(assistant, who, command):
    reply = await assistant.handle(who, command)
    assert not reply.error, reply.title
    return reply


# ---------------------------------------------------------------- 1. Liquity v1: the fee is charged on every draw


async def test_liquity_v1_capacity_leaves_room_for_the_fee_on_the_draw(assistant, alice):
    await ask(assistant, alice, "/add 10 ETH borrow 15000 LUSD on liquity-v1")
    # booked: 15,000 + 0.5 % + 200 = 15,275; the most drawable x: 15,275 + 1.005 x <= 30,000 / 1.10
    most = (Decimal(30000) / Decimal("1.1") - Decimal(15275)) / Decimal("1.005")
    keep_165 = (Decimal(30000) / Decimal("1.65") - Decimal(15275)) / Decimal("1.005")
    assert f"{most:,.2f}" == "11,938.04" and f"{keep_165:,.2f}" == "2,892.36"
    assert "11,938.04 LUSD more" in text(await ask(assistant, alice, "/capacity 1"))
    assert "2,892.36 LUSD more" in text(await ask(assistant, alice, "/capacity 1 cr 165%"))
    # drawn, it books exactly the limit: ICR 110 %, not the 109.76 % the fee-blind figure gave
    reply = await ask(assistant, alice, "/borrow 1 11938.03 LUSD")
    assert "110.00%" in text(reply) or "110.0%" in text(reply)


async def test_a_fee_set_on_the_position_is_the_one_charged_on_draws(assistant, alice):
    await ask(assistant, alice, "/add 10 ETH borrow 15000 LUSD on liquity-v1 fee 2%")
    booked = Decimal(15000) * Decimal("1.02") + 200
    most = (Decimal(30000) / Decimal("1.1") - booked) / Decimal("1.02")
    assert f"{most:,.2f} LUSD more" in text(await ask(assistant, alice, "/capacity 1"))


# ---------------------------------------------------------------- 2. Liquity v2: the liquidator's gas compensation is capped


async def test_liquity_v2_gas_compensation_is_at_most_two_units_of_collateral(assistant, alice):
    reply = await ask(assistant, alice, "/add 1000 ETH borrow 1500000 BOLD on liquity-v2")
    # at the liquidation point ETH = 1,500,000 * 1.10 / 1000 = 1,650: penalty 5 % of the debt = 75,000, plus the
    # liquidator's min(1000 / 200, 2) = 2 ETH = 3,300 (not 5 ETH = 8,250)
    assert "$78,300.00" in text(reply) and "$83,250.00" not in text(reply)


async def test_liquity_v2_small_trove_pays_half_a_percent(assistant, alice):
    reply = await ask(assistant, alice, "/add 10 ETH borrow 15000 BOLD on liquity-v2")
    # ETH at the line 1,650: collateral 16,500; 0.5 % = 82.5 (under the 2-ETH cap of 3,300); 750 + 82.5
    assert "$832.50" in text(reply)


# ---------------------------------------------------------------- 3. exactly 1 is not liquidatable


EXACTLY_ONE = [
    ("/add 10 ETH borrow 10242.2 USDC on aave-v3", 1234.0),  # 10 x 1,234 x 0.83 = 10,242.2
    ("/add 10 ETH borrow 13422.45 USDC on morpho lltv 86%", 1560.75),  # 10 x 1,560.75 x 0.86
    ("/add 10 ETH borrow 28062 DAI on maker ETH-A", 4068.99),  # 40,689.9 / 1.45
    ("/add 10 ETH borrow 24911 BOLD on liquity-v2", 2740.21),  # 27,402.1 / 1.10
    ("/add 10 ETH borrow 25400 LUSD on liquity-v1", 2829.97),  # booked 25,727 = 28,299.7 / 1.10
]


@pytest.mark.parametrize("command, eth", EXACTLY_ONE)
async def test_a_health_factor_of_exactly_one_is_not_liquidatable(assistant, prices, alice, command, eth):
    prices.prices["ETH"] = prices.prices["WETH"] = eth
    added = await ask(assistant, alice, command)
    assert "LIQUIDATABLE" not in text(added) and "liquidatable (health factor" not in text(added)
    health = text(await ask(assistant, alice, "/health 1"))
    assert "1.00" in health and "LIQUIDATABLE" not in health
    whatif = await ask(assistant, alice, f"/whatif ETH {eth}")
    assert "→ 1.00" in text(whatif) and "None would be liquidated." in text(whatif)
    # a cent more debt and it is past the line
    await ask(assistant, alice, "/borrow 1 0.01 " + command.split()[5])
    assert "LIQUIDATABLE" in text(await ask(assistant, alice, "/health 1"))


@pytest.mark.parametrize("command, eth", EXACTLY_ONE)
async def test_the_warning_tick_agrees_that_exactly_one_is_not_liquidatable(bot, command, eth):
    alice = actor("alice", "telegram")
    bot.source.prices["ETH"] = bot.source.prices["WETH"] = 3 * eth
    await ask(bot.assistant, alice, command)
    await bot.tick(ETH=3 * eth, WETH=3 * eth)
    for step in (2.4, 1.9, 1.5, 1.2, 1.0):  # down to the line in steps the price guard trusts
        await bot.tick(60, ETH=round(eth * step, 2) if step != 1.0 else eth, WETH=round(eth * step, 2) if step != 1.0 else eth)
    levels = [i.label for row in bot.queued() for i in row.notice.items]
    assert "LIQUIDATABLE" not in levels and "DANGER" in levels


# ---------------------------------------------------------------- 4. Compound's minimum borrow


async def test_a_compound_debt_under_100_usdc_is_noted(assistant, alice):
    reply = await ask(assistant, alice, "/add 1 ETH borrow 50 USDC on compound-v3")
    assert "needs at least 100 USDC of debt" in text(reply)
    assert "needs at least" not in text(await ask(assistant, alice, "/add 1 ETH borrow 100 USDC on compound-v3"))


# ---------------------------------------------------------------- 5. Aave's average LTV in whole basis points


async def test_aave_borrow_limit_uses_the_average_ltv_rounded_down_to_a_basis_point(assistant, alice):
    reply = await ask(assistant, alice, "/add 7 ETH 1 WBTC borrow 10000 USDC on aave-v3")
    # (21,000 x 8,050 + 60,000 x 7,300) / 81,000 = 7,494.44 bp -> 7,494 (integer division, as GenericLogic does)
    # limit 81,000 x 0.7494 = 60,701.40, so 50,701.40 more (the unrounded average gave 50,705.00)
    assert "50,701.40 USDC more (74.9% LTV)" in text(reply) or "50,701.4 USDC more" in text(reply)


# ---------------------------------------------------------------- 6. presets: debt ceilings and missing assets


async def test_a_vault_type_with_a_zero_debt_ceiling_lends_nothing_more(assistant, alice):
    await ask(assistant, alice, "/add 1 WBTC borrow 10000 DAI on maker WBTC-A")
    reply = text(await ask(assistant, alice, "/capacity 1"))
    assert "lends nothing more" in reply and "30,000" not in reply
    await ask(assistant, alice, "/add 1 WBTC borrow 30000 DAI on maker WBTC-B")  # WBTC-B exists: 150 %, dust 25,000
    assert "$45,000.00" in text(await ask(assistant, alice, "/health 2"))  # liquidation price 30,000 x 1.5 / 1


@pytest.mark.parametrize("asset, price, lender, lt", [
    ("wstETH", 3500.0, "compound-v3", 0.88), ("cbBTC", 60000.0, "compound-v3", 0.85), ("tBTC", 60000.0, "compound-v3", 0.81),
    ("rETH", 3300.0, "aave-v3", 0.95), ("cbETH", 3200.0, "aave-v3", 0.95), ("weETH", 3100.0, "aave-v3", 0.95),
    ("ETHx", 3100.0, "aave-v3", 0.95),
])
async def test_the_added_collateral_is_priced_with_its_published_threshold(assistant, prices, alice, asset, price, lender, lt):
    prices.prices[asset] = price
    debt = "WETH" if lender == "aave-v3" else "USDC"
    amount = 1 if debt == "WETH" else 1000
    reply = text(await ask(assistant, alice, f"/add 1 {asset} borrow {amount} {debt} on {lender}"))
    debt_usd = amount * (3000.0 if debt == "WETH" else 1.0)
    assert f"{price * lt / debt_usd:.2f}" in reply


# ---------------------------------------------------------------- 7. no price, no verdict


async def test_whatif_says_it_cannot_tell_for_a_position_without_a_price(assistant, alice):
    await ask(assistant, alice, "/add 10 SOL borrow 100 USDC on custom lt 80%")
    reply = text(await ask(assistant, alice, "/whatif ETH -30%"))
    assert "None would be liquidated" not in reply and "cannot tell" in reply
