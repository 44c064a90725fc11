"""The Assistant end to end on a real SQLite file with fake prices: commands, changes, isolation."""

from __future__ import annotations

import json

import pytest

from bot.render import plain_text
from core.lending.models import Actor, ChatRef, Severity
from tests.unit.test_grammar import BAD


async def say(assistant, who, text):
    reply = await assistant.handle(who, text)
    return reply, plain_text(reply)


async def test_the_tour_gives_the_domain_numbers(assistant, alice):
    reply, text = await say(assistant, alice, "/add 10 ETH borrow 15000 USDC on aave-v3")
    assert not reply.error
    assert "Added #1" in text and "1.66" in text and "$1,807.23" in text and "39.76% below" in text
    _, text = await say(assistant, alice, "/health 1")
    for expected in ("$30,000.00", "$15,000.00", "1.66", "50.0%", "$1,807.23", "9,150 USDC", "1,600 USDC", "$375.00"):
        assert expected in text, expected
    _, text = await say(assistant, alice, "/capacity 1 hf 1.5")
    assert "You can borrow 1,600 USDC more and keep the health factor 1.50" in text
    _, text = await say(assistant, alice, "/whatif ETH -30%")
    assert "1.66 → 1.16" in text and "danger" in text
    _, text = await say(assistant, alice, "/whatif ETH -40%")
    assert "0.99" in text and "LIQUIDATED" in text
    reply, text = await say(assistant, alice, "/positions")
    assert "#1" in text and "HF 1.66 OK" in text


async def test_capacity_stops_at_the_lenders_borrow_limit(assistant, alice):
    # Ledn: new debt up to 50 % LTV, margin call at 70 %. At BTC $60,000, 2 BTC hold $120,000.
    await say(assistant, alice, "/add 2 BTC borrow 40000 USD on ledn")
    _, text = await say(assistant, alice, "/capacity 1")
    assert "You can borrow 20,000 USD more: the lender's borrow limit (50.0% LTV) comes before the LTV 70.0%" in text
    assert "44,000 USD more (past the lender's borrow limit)" in text
    _, text = await say(assistant, alice, "/capacity 1 ltv 40%")
    assert "You can borrow 8,000 USD more and keep the LTV 40.0%." in text and "past the lender's" not in text
    await say(assistant, alice, "/borrow 1 25000 USD")  # 54 %: over the limit, short of the margin call
    _, text = await say(assistant, alice, "/capacity 1")
    assert "The lender would refuse more borrowing: the position is past its borrow limit (50.0% LTV)." in text


async def test_lender_metrics_in_replies(assistant, alice):
    _, text = await say(assistant, alice, "/add 10 ETH borrow 10000 DAI on maker")
    assert "ETH-A" in text and "300.0%" in text and "$1,450.00" in text and "13% penalty" in text
    _, text = await say(assistant, alice, "/add 10 ETH borrow 15000 LUSD on liquity-v1")
    assert "15,275 LUSD" in text and "196.4%" in text and "$1,680.25" in text
    _, text = await say(assistant, alice, "/add 10 WETH borrow 15000 USDC on morpho lltv 86%")
    assert "1.72" in text and "$1,744.19" in text
    _, text = await say(assistant, alice, "/add 10 WETH borrow 15000 USDC on compound-v3")
    assert "9,750 USDC" in text and "$1,675.98" in text


async def test_ledn_vector_with_its_own_prices(assistant, prices, alice):
    prices.prices["BTC"] = 100_000.0
    _, text = await say(assistant, alice, "/add 0.2 BTC borrow 10000 USD on ledn")
    assert "LTV            50.0%" in text
    assert "$62,500.00" in text and "$71,428.57" in text


async def test_changes_update_the_position(assistant, alice, store):
    await say(assistant, alice, "/add 10 ETH borrow 15000 USDC on aave-v3")
    _, text = await say(assistant, alice, "/deposit 1 2 ETH")
    assert "12 ETH" in text and "1.66 → 1.99" in text
    await say(assistant, alice, "/withdraw 1 2 ETH")
    await say(assistant, alice, "/borrow 1 1000 USDC")
    await say(assistant, alice, "/repay 1 1000 USDC")
    position = store.position(alice.user, 1)
    assert [(leg.asset, str(leg.amount)) for leg in position.collateral] == [("ETH", "10")]
    assert [(leg.asset, str(leg.amount)) for leg in position.debt] == [("USDC", "15000")]


async def test_impossible_changes_are_refused_and_change_nothing(assistant, alice, store):
    await say(assistant, alice, "/add 10 ETH borrow 15000 USDC on aave-v3")
    before = store.position(alice.user, 1)
    for text in ("/withdraw 1 11 ETH", "/withdraw 1 1 BTC", "/repay 1 20000 USDC", "/withdraw 1 10 ETH",
                 "/deposit 1 1 SOL", "/borrow 1 1 LUSD"):
        reply, _ = await say(assistant, alice, text)
        assert reply.error, text
        assert reply.usage or "deposit" in text or "borrow" in text
    assert store.position(alice.user, 1) == before


async def test_remove_asks_first(assistant, alice, store):
    await say(assistant, alice, "/add 1 ETH on aave-v3")
    reply, _ = await say(assistant, alice, "/remove 1")
    assert reply.buttons and reply.buttons[0].command == "/remove 1 yes"
    assert store.position(alice.user, 1) is not None
    await say(assistant, alice, "/remove 1 yes")
    assert store.position(alice.user, 1) is None


async def test_users_see_only_their_own(assistant, alice, bob, store):
    await say(assistant, alice, "/add 10 ETH borrow 15000 USDC on aave-v3")
    missing, _ = await say(assistant, bob, "/health 2")
    for text in ("/health 1", "/remove 1 yes", "/deposit 1 1 ETH", "/repay 1 1 USDC", "/capacity 1", "/whatif 1 ETH -10%"):
        reply, shown = await say(assistant, bob, text)
        assert reply.error, text
        assert shown.replace("#1", "#N") == (await say(assistant, bob, text.replace(" 1", " 2", 1)))[1].replace("#2", "#N")
    _, text = await say(assistant, bob, "/positions")
    assert "no positions" in text
    assert json.loads(( await assistant.handle(bob, "/export")).attachment.content)["positions"] == []
    assert store.position(alice.user, 1) is not None
    # each owner numbers from 1
    reply, text = await say(assistant, bob, "/add 1 BTC on aave-v3")
    assert "Added #1" in text


async def test_forget_asks_then_deletes_only_mine(assistant, alice, bob, store):
    await say(assistant, alice, "/add 10 ETH on aave-v3")
    await say(assistant, bob, "/add 1 BTC on aave-v3")
    reply, _ = await say(assistant, alice, "/forget")
    assert reply.buttons
    assert store.positions(alice.user)
    await say(assistant, alice, "/forget yes")
    assert store.positions(alice.user) == []
    assert len(store.positions(bob.user)) == 1


async def test_export_is_complete_json(assistant, alice):
    await say(assistant, alice, "/add 10 ETH 0.5 WBTC borrow 30000 USDC on aave-v3 as main")
    data = json.loads((await assistant.handle(alice, "/export")).attachment.content)
    [p] = data["positions"]
    assert p["label"] == "main" and p["protocol"] == "aave-v3" and p["market"] == "core"
    assert p["collateral"] == [{"asset": "ETH", "amount": "10"}, {"asset": "WBTC", "amount": "0.5"}]


async def test_missing_prices_are_said_plainly(assistant, prices, alice):
    prices.prices.pop("ETH")
    reply, text = await say(assistant, alice, "/add 10 ETH borrow 15000 USDC on aave-v3")
    assert not reply.error and "Added #1" in text
    assert "no price" in text.lower() and "15,000 USDC" in text
    assert "Warnings for it start once ETH has a trusted price again." in text
    _, text = await say(assistant, alice, "/price ETH")
    assert "no price" in text


async def test_capacity_for_a_hypothetical_position(assistant, alice, store):
    reply, text = await say(assistant, alice, "/capacity 10 ETH on aave-v3")
    assert "$24,150.00" in text  # 30,000 * 0.805 with no debt
    assert store.positions(alice.user) == []


async def test_unsupported_combinations(assistant, alice):
    for text in ("/add 10 ETH on nowhere", "/add 10 SOL borrow 1 USDC on compound-v3", "/add 10 ETH 1 WBTC borrow 1 DAI on maker",
                 "/add 10 ETH borrow 1 USDC on morpho", "/add 10 ETH borrow 1 USDC on morpho lltv 50%",
                 "/add 1 BTC borrow 1 USD on custom", "/add 10 ETH borrow 100 USDC on maker ETH-Z",
                 "/add 1 BTC borrow 1 USD on custom ltv 90% lt 80%"):
        reply = await assistant.handle(alice, text)
        assert reply.error and reply.usage, text


@pytest.mark.parametrize("text", BAD + ["/health 999", "/remove 1", "/deposit 5 1 ETH"])
async def test_bad_input_answers_briefly_and_writes_nothing(assistant, alice, store, text):
    counts = store.counts()
    reply = await assistant.handle(alice, text)
    assert reply.error
    shown = plain_text(reply)
    assert "Traceback" not in shown and len(shown.splitlines()) <= 3
    assert store.counts() == counts


async def test_severity_follows_health(assistant, prices, alice):
    await assistant.handle(alice, "/add 10 ETH borrow 15000 USDC on aave-v3")
    assert (await assistant.handle(alice, "/health 1")).severity == Severity.OK
    prices.prices["ETH"] = 2000.0
    assert (await assistant.handle(alice, "/health 1")).severity == Severity.DANGER
    prices.prices["ETH"] = 1500.0
    assert (await assistant.handle(alice, "/health 1")).severity == Severity.LIQUIDATABLE


async def test_an_internal_error_is_a_short_reply(assistant, alice, monkeypatch, caplog):
    class Broken:
        async def snapshot(self, symbols):
            raise RuntimeError("boom")

    assistant.prices = Broken()  # a fake of our own port that fails
    await assistant.handle(alice, "/add 1 ETH on aave-v3")
    reply = await assistant.handle(alice, "/health 1")
    assert reply.error and "ref" in reply.title and "boom" not in plain_text(reply)


async def test_an_untrusted_price_is_shown_as_such(assistant, prices, alice):
    await assistant.handle(alice, "/add 10 ETH borrow 15000 USDC on aave-v3")
    prices.untrusted["ETH"] = "sources disagree by 10.0%"
    _, text = await say(assistant, alice, "/health 1")
    assert "Not confirmed now: ETH is shown at its last good price: sources disagree by 10.0%" in text
    _, text = await say(assistant, alice, "/price ETH")
    assert "DEGRADED: sources disagree by 10.0%" in text


async def test_status_lists_what_is_degraded(assistant, prices, alice):
    prices.untrusted["LINK"] = "Replay jumped -100.0%"
    reply, text = await say(assistant, alice, "/status")
    assert "Degraded" in text and "LINK" in text and "jumped" in text
    assert reply.severity == Severity.WARNING


async def test_capacity_refuses_a_target_past_liquidation(assistant, alice, store):
    await say(assistant, alice, "/add 10 ETH borrow 15000 USDC on aave-v3")
    await say(assistant, alice, "/add 10 ETH borrow 10000 DAI on maker")
    for text, words in (("/capacity 1 ltv 90%", "liquidates (83.0%)"),
                        ("/capacity 1 ltv 83%", "at or past where Aave v3"),
                        ("/capacity 2 cr 120%", "at or below where Maker"),
                        ("/capacity 10 ETH on maker ETH-A cr 101%", "(145.0%)")):
        reply, shown = await say(assistant, alice, text)
        assert reply.error and reply.usage and words in shown, (text, shown)
    reply, shown = await say(assistant, alice, "/capacity 1 ltv 70%")
    assert not reply.error and "You can borrow 6,000 USDC more" in shown


async def test_warnings_switched_off_before_the_first_position_stay_off(assistant, alice, store):
    await say(assistant, alice, "/alerts off")
    await say(assistant, alice, "/add 10 ETH borrow 15000 USDC on aave-v3")
    assert store.alerts_enabled(alice.user) is False
    _, text = await say(assistant, alice, "/alerts 1")
    assert text.splitlines()[-1].split() == ["Warnings", "off"]


async def test_export_holds_every_setting(assistant, alice, store):
    await say(assistant, alice, "/add 10 ETH borrow 15000 USDC on aave-v3")
    for text in ("/rate 1 5.2%", "/alerts 1 warn 1.6 critical 1.3", "/snooze 1 2h", "/alerts off"):
        assert not (await assistant.handle(alice, text)).error, text
    group = Actor(alice.user, ChatRef("console", "g1", True), "alice")
    assert not (await assistant.handle(group, "/watch 1")).error
    data = json.loads((await assistant.handle(alice, "/export")).attachment.content)
    [p] = data["positions"]
    assert data["warnings_on"] is False and p["borrow_apr"] == pytest.approx(0.052)
    assert p["warnings"]["warn_below_hf"] == 1.6 and p["warnings"]["danger_below_hf"] == 1.3
    assert p["warnings"]["snoozed_until"] is not None
    assert p["shared_in"] == [{"chat": "console:g1", "title": None, "as": "W1"}]


async def test_carry_without_a_rate_gives_no_net(assistant, alice):
    await say(assistant, alice, "/add 10 ETH borrow 15000 USDC on aave-v3")
    _, text = await say(assistant, alice, "/carry 1 yield 10%")
    assert "unknown until the borrow rate is set" in text and "/rate 1" in text
    await say(assistant, alice, "/rate 1 5%")
    _, text = await say(assistant, alice, "/carry 1 yield 10%")
    assert "a year on $15,000.00 of equity" in text


async def test_totals_stay_under_the_amount_cap(assistant, alice, store):
    await say(assistant, alice, "/add 1 BTC on aave-v3")
    reply, _ = await say(assistant, alice, "/deposit 1 999999999999999.5 BTC")
    assert reply.error and "1e15" in reply.title and reply.usage
    reply, _ = await say(assistant, alice, "/add 999999999999999 ETH 2 ETH on aave-v3")
    assert reply.error and "1e15" in reply.title
    assert [str(leg.amount) for leg in store.position(alice.user, 1).collateral] == ["1"]
    reply, _ = await say(assistant, alice, "/add " + "1 ETH " * 11 + "on aave-v3")  # one asset, however many times
    assert not reply.error


async def test_options_a_lender_does_not_have_are_refused(assistant, alice, store):
    for text, word in (("/add 10 ETH borrow 1000 USDC on aave-v3 lltv 86%", "'lltv'"),
                       ("/add 10 ETH borrow 1000 USDC on aave-v3 fee 1%", "'fee'"),
                       ("/add 10 ETH borrow 1000 DAI on maker margin 70%", "'margin'"),
                       ("/add 1 BTC borrow 1 USD on custom ltv 50% lt 80% lltv 86%", "'lltv'"),
                       ("/capacity 10 ETH on aave-v3 margin 70%", "'margin'")):
        reply, _ = await say(assistant, alice, text)
        assert reply.error and word in reply.title and reply.usage, text
    assert store.positions(alice.user) == []
    reply, _ = await say(assistant, alice, "/add 1 BTC borrow 20000 USD on ledn margin 65%")
    assert not reply.error


async def test_a_position_liquidatable_from_the_start_is_pointed_out(assistant, alice):
    _, text = await say(assistant, alice, "/add 10 ETH borrow 50000 USDC on aave-v3")
    assert "Added #1" in text and "At today's prices this is liquidatable" in text


async def test_a_change_without_prices_says_it_was_not_checked(assistant, prices, alice):
    await say(assistant, alice, "/add 10 ETH borrow 1000 USDC on aave-v3")
    prices.prices.pop("ETH")
    _, text = await say(assistant, alice, "/withdraw 1 9 ETH")
    assert "could not check what this does to the health factor" in text


@pytest.mark.parametrize("text, words", [
    ("/whatif -30%", "Name it first, like 'ETH -30%'"),
    ("/whatif ETH -", "How far does ETH move?"),
    ("/snooze 1 10080m", "no position #1"),  # a valid duration: the answer is about the position, not the syntax
    ("/il ETH-ETH 3000 3500", "two different assets"),
    ("/capacity 10 ETH on aave-v3 as test hf 1.5", "no label"),
    ("/add 10 ETH on aave-v3 fee 0%", "above 0% and below 100%"),
])
async def test_refusals_say_what_is_wrong(assistant, alice, text, words):
    reply, shown = await say(assistant, alice, text)
    assert reply.error and words in shown, shown


async def test_snoozing_nothing_says_so(assistant, alice):
    _, text = await say(assistant, alice, "/snooze all 2h")
    assert "no positions to snooze" in text


async def test_il_takes_dollar_signs_in_a_range_and_shows_no_negative_zero(assistant, alice):
    reply, text = await say(assistant, alice, "/il ETH-USDC $3000 $3500 range $2000-$4000")
    assert not reply.error and "Range $2,000.00-$4,000.00" in text
    _, text = await say(assistant, alice, "/il ETH-USDC 3000 3000")
    assert "-0.0" not in text
