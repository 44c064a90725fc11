"""What the commands are: each one's usage, summary and examples (for /help and errors), and the parsed Command."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from core.lending.models import Leg, Overrides


@dataclass(frozen=True)
class CommandSpec:
    """A command's name, usage line, one-line summary and examples (help text lives here)."""

    name: str
    usage: str
    summary: str
    examples: tuple[str, ...] = ()


COMMANDS: dict[str, CommandSpec] = {
    c.name: c
    for c in (
        CommandSpec("start", "/start", "what this bot does and how to begin"),
        CommandSpec("help", "/help [command]", "the command list, or one command in detail", ("/help add",)),
        CommandSpec(
            "add",
            "/add AMOUNT ASSET [...] [borrow AMOUNT ASSET [...]] on LENDER [MARKET] [ltv X%] [lt Y%] [as LABEL]",
            "register a position",
            (
                "/add 10 ETH borrow 15000 USDC on aave-v3",
                "/add 10 wstETH borrow 8 WETH on aave-v3 emode",
                "/add 10 ETH borrow 10000 DAI on maker ETH-A",
                "/add 5 WETH borrow 8000 USDC on morpho lltv 86%",
                "/add 0.2 BTC borrow 10000 USD on ledn as house",
                "/add 1 BTC borrow 20000 USD on custom ltv 50% lt 80%",
            ),
        ),
        CommandSpec("positions", "/positions", "every position you hold, with health and status"),
        CommandSpec(
            "track",
            "/track ADDRESS [on aave-v3|compound-v3|liquity-v1|liquity-v2|maker|morpho [CHAIN] [MARKET_ID|VAULT_ID|TROVE_ID]]",
            "follow a wallet's lending positions from the chain, priced by the lender's own oracle",
            ("/track 0x1234...abcd", "/track 0x1234...abcd on aave-v3 arbitrum", "/track 0x1234...abcd on morpho 0xc54d...",
             "/track 0x1234...abcd on liquity-v2 4711"),
        ),
        CommandSpec("untrack", "/untrack ID", "stop following a wallet's position (it is deleted)", ("/untrack 1",)),
        CommandSpec(
            "health",
            "/health [ID]",
            "value, debt, health factor, liquidation prices, capacity and liquidation cost",
            ("/health 1", "/health #2"),
        ),
        CommandSpec("deposit", "/deposit ID AMOUNT ASSET [...]", "add collateral to a position", ("/deposit 1 2 ETH",)),
        CommandSpec("withdraw", "/withdraw ID AMOUNT ASSET [...]", "take collateral out", ("/withdraw 1 0.5 ETH",)),
        CommandSpec("borrow", "/borrow ID AMOUNT ASSET [...]", "add debt to a position", ("/borrow 1 1000 USDC",)),
        CommandSpec("repay", "/repay ID AMOUNT ASSET [...]", "pay debt back", ("/repay 1 5k USDC",)),
        CommandSpec("remove", "/remove ID [yes]", "delete a position (asks first)", ("/remove 1", "/remove 1 yes")),
        CommandSpec(
            "capacity",
            "/capacity [ID] [hf 1.5 | ltv 60% | cr 200%]  or  /capacity AMOUNT ASSET [...] on LENDER",
            "how much more you can borrow: to the lender's limit and to a target",
            ("/capacity 1 hf 1.5", "/capacity 10 ETH on aave-v3"),
        ),
        CommandSpec(
            "whatif",
            "/whatif [ID] ASSET -30% [ASSET +10% | ASSET 2000 ...]",
            "health of your positions after price moves (ALL moves every non-stable asset)",
            ("/whatif ETH -30%", "/whatif ETH -30% BTC -20%", "/whatif 1 ETH 2000", "/whatif ALL -50%"),
        ),
        CommandSpec("price", "/price [ASSET ...]", "price, source and age", ("/price ETH BTC",)),
        CommandSpec("protocols", "/protocols [LENDER]", "the lender presets, their parameters and dates", ("/protocols maker",)),
        CommandSpec(
            "alerts",
            "/alerts [on|off]  or  /alerts ID [warn 1.6] [critical 1.25] [remind 12h] [redemption 5%] | on | off | reset",
            "your warning settings; thresholds per position (health factor, or % in the lender's metric)",
            ("/alerts", "/alerts 1 warn 1.6 critical 1.25", "/alerts 2 warn 70% critical 75%", "/alerts 1 remind 4h", "/alerts 3 redemption 10%",
             "/alerts off"),
        ),
        CommandSpec("snooze", "/snooze ID|all 2h  or  /snooze ID off", "quiet warnings for a while (liquidation still reaches you)",
                    ("/snooze 1 2h", "/snooze all 30m", "/snooze 1 off")),
        CommandSpec("watch", "/watch ID", "in a group: share your position's warnings into this group", ("/watch 1",)),
        CommandSpec("unwatch", "/unwatch ID|W1", "in a group: stop sharing a position here (its owner or a group admin)",
                    ("/unwatch W1",)),
        CommandSpec("watching", "/watching", "in a group: the positions whose warnings this group receives"),
        CommandSpec("yield", "/yield ASSET [chain NAME] [min-tvl 5m] [stable] [no-il] [single] [all]",
                    "where an asset earns: the best pools with APY base and reward, mean APY, TVL, IL risk",
                    ("/yield USDC", "/yield ETH chain arbitrum", "/yield USDC min-tvl 50m no-il")),
        CommandSpec("rate", "/rate ID [5.2% | off]", "what your debt costs (APR), for /carry",
                    ("/rate 1", "/rate 1 5.2%", "/rate 1 off")),
        CommandSpec("carry", "/carry ID [yield 8%]",
                    "does the borrowing pay: what the debt costs, what it and the collateral earn, net on equity",
                    ("/carry 1", "/carry 1 yield 8%")),
        CommandSpec("backtest", "/backtest ID [2020-03|2021-05|2022-06|2022-11|all]",
                    "your position through real crashes: lowest health, warnings, liquidation, collateral that would have saved it",
                    ("/backtest 1", "/backtest 1 2020-03")),
        CommandSpec("mining", "/mining [ID] | /mining add HASHRATE TH/s J/TH power USD_KWH [pool X%] | /mining ID loan N|off "
                              "| /mining ID pledge X% | /mining [ID] whatif difficulty +10%|halving|power 0.08|BTC -30% | "
                              "/mining remove ID",
                    "your mining fleets: BTC and USD a day, hashprice, power, margin, break-even, retarget and halving; "
                    "the loan their coins back, month by month",
                    ("/mining add 200 TH/s 17.5 J/TH power 0.06 pool 2%", "/mining 1 loan 3", "/mining 1 pledge 50%",
                     "/mining 1 whatif halving")),
        CommandSpec("risk", "/risk ID", "the chance that a position reaches its liquidation price within 1, 7 and 30 days, "
                    "from each asset's realized volatility", ("/risk 1",)),
        CommandSpec("il", "/il PAIR FROM TO [range LOW-HIGH]", "impermanent loss of a pool position between two prices",
                    ("/il ETH-USDC 3000 4500", "/il ETH-USDC 3000 3500 range 2000-4000")),
        CommandSpec("chart", "/chart ID [whatif]", "a picture: recent price with the liquidation and warning levels, or health against price",
                    ("/chart 1", "/chart 1 whatif")),
        CommandSpec("status", "/status", "price sources, the last checks, what is degraded, the message queue"),
        CommandSpec("export", "/export", "all your data as JSON"),
        CommandSpec("forget", "/forget [yes]", "delete all your data (asks first)"),
    )
}


@dataclass(frozen=True)
class PositionSpec:
    """A position as typed: legs, lender, market, overrides and label."""

    collateral: tuple[Leg, ...]
    debt: tuple[Leg, ...] = ()
    protocol: str | None = None
    market: str | None = None
    overrides: Overrides = field(default_factory=Overrides)
    label: str | None = None


@dataclass(frozen=True)
class Target:
    """A capacity target in the lender's own terms: hf 1.5, ltv 60% or cr 200%."""

    kind: str
    value: Decimal


@dataclass(frozen=True)
class Shock:
    """A price move for /whatif: a relative move (-0.3) or an absolute USD price."""

    asset: str  # a symbol, or "ALL"
    move: Decimal | None = None
    price: Decimal | None = None


@dataclass(frozen=True)
class Command:
    """A parsed command: its name and typed arguments (unused ones stay None)."""

    name: str
    number: int | None = None
    spec: PositionSpec | None = None
    legs: tuple[Leg, ...] = ()
    target: Target | None = None
    shocks: tuple[Shock, ...] = ()
    assets: tuple[str, ...] = ()
    topic: str | None = None
    confirmed: bool = False
    watch: int | None = None  # a group's W-number instead of an owner's id
    switch: bool | None = None  # on / off
    warn: Decimal | None = None
    critical: Decimal | None = None
    percent: bool = False  # thresholds given in the lender's metric (LTV % or CR %)
    seconds: int | None = None
    remind: int | None = None  # /alerts: the longest pause between reminders, in seconds
    redemption: Decimal | None = None  # /alerts: a Liquity v2 trove's redemption line, a share of its branch's debt
    everything: bool = False  # "all"
    options: tuple[tuple[str, Any], ...] = ()  # named extras: yield filters, /il prices and range
    address: str | None = None  # /track: a wallet address
    lender: str | None = None  # /track: one lender only
    chain: str | None = None  # /track: one chain only
    market_ref: str | None = None  # /track: one Morpho Blue market, by id

    @property
    def id(self) -> int:
        """The position number the grammar guarantees for this command."""
        if self.number is None:
            raise ValueError(f"/{self.name} was parsed without a position number")
        return self.number

    def option(self, key: str, default: Any = None) -> Any:
        """One named extra, or the default when it was not given."""
        return dict(self.options).get(key, default)
