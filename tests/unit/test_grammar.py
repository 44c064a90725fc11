"""The text grammar: amounts, percentages, ids, symbols and every bad input of the issue."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.chat.grammar import COMMANDS, Parser, command_name
from core.errors import InvalidAmount, UnknownAsset, UnknownCommand, UsageError
from core.lending.numbers import fmt_hf, parse_amount, parse_percent


@pytest.fixture
def parse(registry):
    return Parser(registry).parse


@pytest.mark.parametrize(
    "token, expected",
    [
        ("15000", "15000"),
        ("15000.5", "15000.5"),
        ("15,000", "15000"),
        ("1,234,567.25", "1234567.25"),
        ("15k", "15000"),
        ("15K", "15000"),
        ("1.5m", "1500000"),
        ("0.25", "0.25"),
        (".5", "0.5"),
    ],
)
def test_amounts_accepted(token, expected):
    assert parse_amount(token) == Decimal(expected)


@pytest.mark.parametrize(
    "token",
    ["-5", "0", "0.0", "NaN", "nan", "inf", "Infinity", "sNaN", "1e999", "1e5", "١٢٣", "１２３", "1_000", "15,00",
     "1,2345", "", "k", "1.2.3", "0x10", "9" * 40, "2000000000000000", "1." + "1" * 19],
)
def test_amounts_rejected(token):
    with pytest.raises(InvalidAmount):
        parse_amount(token)


def test_percent_forms():
    assert parse_percent("80%") == Decimal("0.8")
    assert parse_percent("80") == Decimal("0.8")
    assert parse_percent("-30%", signed=True) == Decimal("-0.3")
    with pytest.raises(InvalidAmount):
        parse_percent("-30%")
    with pytest.raises(InvalidAmount):
        parse_percent("NaN%")


def test_hf_never_rounds_up_to_one():
    assert fmt_hf(0.996) == "0.99"
    assert fmt_hf(1.66) == "1.66"


def test_add_full_form(parse):
    cmd = parse("/add 10 ETH 0.5 wbtc borrow 15k USDC on aave-v3 emode lt 80% as my main loan")
    spec = cmd.spec
    assert [(leg.asset, leg.amount) for leg in spec.collateral] == [("ETH", Decimal(10)), ("WBTC", Decimal("0.5"))]
    assert [(leg.asset, leg.amount) for leg in spec.debt] == [("USDC", Decimal(15000))]
    assert (spec.protocol, spec.market, spec.label) == ("aave-v3", "emode", "my main loan")
    assert spec.overrides.lt == Decimal("0.8")


def test_symbols_are_case_insensitive_and_nfkc(parse):
    cmd = parse("/add 1 ｅｔｈ borrow 100 usdc on aave-v3")  # full-width letters fold to ETH
    assert cmd.spec.collateral[0].asset == "ETH"
    assert parse("/add 1 steth on custom lt 80%").spec.collateral[0].asset == "stETH"


def test_ids_with_or_without_hash(parse):
    assert parse("/health 1").number == 1
    assert parse("/health #12").number == 12
    assert parse("/health").number is None


def test_command_with_bot_suffix(parse):
    assert command_name("/Health@collateral_bot 1") == "health"
    assert parse("/health@collateral_bot 2").number == 2


def test_repeated_assets_merge(parse):
    spec = parse("/add 1 ETH 2 eth on aave-v3").spec
    assert [(leg.asset, leg.amount) for leg in spec.collateral] == [("ETH", Decimal(3))]


def test_capacity_forms(parse):
    assert parse("/capacity 1 hf 1.5").target.value == Decimal("1.5")
    assert parse("/capacity").number is None
    cmd = parse("/capacity 10 ETH on aave-v3 hf 1.8")
    assert cmd.spec.collateral[0].amount == 10 and cmd.target.value == Decimal("1.8")
    assert parse("/capacity 2 cr 200%").target.value == Decimal(2)


def test_whatif_forms(parse):
    cmd = parse("/whatif ETH -30% BTC +10% SOL 120")
    assert [(s.asset, s.move, s.price) for s in cmd.shocks] == [
        ("ETH", Decimal("-0.3"), None),
        ("BTC", Decimal("0.1"), None),
        ("SOL", None, Decimal(120)),
    ]
    assert parse("/whatif 2 ALL -50%").number == 2


BAD = [
    "/add -5 ETH",
    "/add 0 ETH",
    "/add NaN ETH",
    "/add inf ETH",
    "/add 1e999 ETH",
    "/add ١٢٣ ETH",
    "/add 10 FOO",
    "/add ETH 10",
    "/add 10 ETH borrow",
    "/add 10 ETH",
    "/add 10 ETH on",
    "/add 10 ETH on aave-v3 lt 150%",
    "/add 10 ETH on aave-v3 lt",
    "/add",
    "/health abc",
    "/health 1 2",
    "/health 0",
    "/health 99999999999",
    "/",
    "/frobnicate",
    "/health\x00 1",
    "/add 10 ETH\u202e on aave-v3",
    "/add 10 ETH on aave-v3 " + "x" * 10_000,
    "hello",
    "/whatif ETH 30%",
    "/whatif ETH",
    "/whatif",
    "/whatif ETH -200%",
    "/capacity 1 hf 0.9",
    "/capacity 1 hf",
    "/deposit 1",
    "/deposit x 1 ETH",
    "/repay 1 5 ETH extra",
    "/price FOO",
    "/help nosuch",
    "/remove",
    "/forget please",
]


@pytest.mark.parametrize("text", BAD)
def test_bad_input_is_a_usage_error(parse, text):
    with pytest.raises(UsageError) as caught:
        parse(text)
    message = caught.value.message
    assert message and "\n" not in message and len(message) < 400
    if text.startswith("/") and len(text) < 1000 and caught.value.usage is not None:
        assert caught.value.usage in {c.usage for c in COMMANDS.values()}


def test_unknown_asset_says_which(parse):
    with pytest.raises(UnknownAsset, match="FOO"):
        parse("/add 10 FOO on aave-v3")


def test_unknown_command(parse):
    with pytest.raises(UnknownCommand):
        parse("/frobnicate 1")


def test_a_misspelt_keyword_is_named_not_taken_for_an_asset(parse):
    with pytest.raises(UsageError, match="Did you mean 'borrow' instead of 'borow'"):
        parse("/add 10 ETH borow 15000 USDC on aave-v3")
    with pytest.raises(UsageError, match="Put the amount before the asset: '10 ETH'"):
        parse("/add ETH 10 on aave-v3")


def test_track_takes_a_liquity_v2_trove_id_in_decimal_or_hex(parse):
    wallet = "0x6813eb9362372eef6200f3b1dbc3f819671cba69"
    assert parse(f"/track {wallet} on liquity-v2 4711").market_ref == "4711"
    assert parse(f"/track {wallet} on liquity-v2 ethereum 0x1267").market_ref == "4711"  # kept in decimal
    for bad in ("12ab", "0x" + "f" * 65, "0", str(2**256)):
        with pytest.raises(UsageError):
            parse(f"/track {wallet} on liquity-v2 {bad}")


def test_alerts_take_a_redemption_line_as_a_share(parse):
    assert parse("/alerts 3 redemption 10%").redemption == Decimal("0.1")
    assert parse("/alerts 3 warn 1.6 redemption 2.5%").redemption == Decimal("0.025")
    for bad in ("/alerts 3 redemption 10", "/alerts 3 redemption 0%", "/alerts 3 redemption 100%",
                "/alerts 3 redemption 5% redemption 6%"):
        with pytest.raises((UsageError, InvalidAmount)):
            parse(bad)
