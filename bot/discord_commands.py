"""Discord's app commands: every command with typed, described, constrained options -> the core's command text."""

from __future__ import annotations

from decimal import Decimal

import discord
from discord import app_commands

from core.chain.tracker import LENDERS as CHAIN_LENDER_NAMES
from core.chat.commands import COMMANDS

MAX_ID = 999_999_999
Percent = app_commands.Range[float, 0.01, 99.99]
# Amounts and prices are text, not Discord numbers: a number option arrives as a float, and turning it
# back into text loses digits (0.12345678 BTC became 0.123457). The core's parser checks the text
# exactly and answers a bad one with the usage line.
Amount = app_commands.Range[str, 1, 32]


# What `server: True` means, said on every command that has it (Discord shows "…" for an undescribed option).
SERVER_READS = "this channel's group's position instead of yours"
SERVER_CHANGES = "this channel's group's position instead of yours (needs Manage Server)"


def number(x: float) -> str:
    """A number option as the user typed it: the shortest text that is this float, never '1e-05' (the core takes no exponent)."""
    return format(Decimal(repr(x)).normalize(), "f")


def signed(x: float) -> str:
    """A move with its sign, like +10 or -30."""
    return ("+" if x >= 0 else "") + number(x)


def token(text: str | None) -> str | None:
    """One typed value as one word of the command: '15 000' is 15000, and a value cannot add words of its own."""
    return "".join(text.split()) if text else None


def register(tree: app_commands.CommandTree, adapter) -> None:
    """Every command of the bot, typed, described, constrained; each one calls adapter.run with its text."""
    run = adapter.run
    d = {name: spec.summary[:100] for name, spec in COMMANDS.items()}
    assets, lenders, positions = adapter.assets, adapter.lenders, adapter.positions

    def arg(*parts) -> str:
        return " ".join(str(p) for p in parts if p not in (None, ""))

    @tree.command(name="start", description=d["start"])
    async def start(i: discord.Interaction):
        await run(i, "/start")

    async def command_names(i: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=n, value=n) for n in COMMANDS if n.startswith(current.lower().strip())][:25]

    @tree.command(name="help", description=d["help"])
    @app_commands.describe(command="one command in detail")
    @app_commands.autocomplete(command=command_names)
    async def help_(i: discord.Interaction, command: str | None = None):
        await run(i, arg("/help", command))

    @tree.command(name="add", description=d["add"])
    @app_commands.describe(amount="how much collateral, like 10 or 0.12345678", asset="collateral asset", lender="the lender or preset",
                           borrow_amount="how much you borrowed, like 15000", borrow_asset="what you borrowed",
                           more_collateral="further collateral, like '0.5 WBTC'", market="market, ilk or branch (e.g. ETH-A, emode)",
                           ltv="your own borrow limit, %", lt="your own liquidation threshold, %", lltv="Morpho market LLTV, %",
                           label="a name for it", server="register it for this channel's group (needs Manage Server)")
    @app_commands.autocomplete(asset=assets, borrow_asset=assets, lender=lenders)
    async def add(i: discord.Interaction, amount: Amount, asset: str, lender: str,
                  borrow_amount: Amount | None = None, borrow_asset: str | None = None,
                  more_collateral: str | None = None, market: str | None = None, ltv: Percent | None = None,
                  lt: Percent | None = None, lltv: Percent | None = None, label: str | None = None, server: bool = False):
        text = arg("/add", token(amount), asset, more_collateral)
        if borrow_amount or borrow_asset:
            text = arg(text, "borrow", token(borrow_amount), borrow_asset)
        text = arg(text, "on", lender, market, *(f"{k} {number(v)}%" for k, v in (("ltv", ltv), ("lt", lt), ("lltv", lltv)) if v))
        await run(i, arg(text, "as", label) if label else text, server)

    @tree.command(name="positions", description=d["positions"])
    @app_commands.describe(server="this channel's group's own positions instead of yours")
    async def positions_(i: discord.Interaction, server: bool = False):
        await run(i, "/positions", server)

    @tree.command(name="health", description=d["health"])
    @app_commands.describe(position="your position's id", watched="a position shared here, like W1", server=SERVER_READS)
    @app_commands.autocomplete(position=positions)
    async def health(i: discord.Interaction, position: app_commands.Range[int, 1, MAX_ID] | None = None,
                     watched: str | None = None, server: bool = False):
        await run(i, arg("/health", watched or position), server)

    def change(name: str):
        @app_commands.describe(position="your position's id", amount="how much, like '1 ETH' or '500 USDC'", server=SERVER_CHANGES)
        @app_commands.autocomplete(position=positions)
        async def command(i: discord.Interaction, position: app_commands.Range[int, 1, MAX_ID], amount: str, server: bool = False):
            await run(i, arg(f"/{name}", position, amount), server)

        tree.command(name=name, description=d[name])(command)

    for name in ("deposit", "withdraw", "borrow", "repay"):
        change(name)

    @tree.command(name="remove", description=d["remove"])
    @app_commands.describe(position="the id of the position to delete (you confirm with a button)", server=SERVER_CHANGES)
    @app_commands.autocomplete(position=positions)
    async def remove(i: discord.Interaction, position: app_commands.Range[int, 1, MAX_ID], server: bool = False):
        await run(i, arg("/remove", position), server)

    @tree.command(name="track", description=d["track"])
    @app_commands.describe(address="the wallet's 0x address (it stays yours: groups never see it)",
                           lender="only this lender", chain="only this chain",
                           market="a Morpho market id, a Maker vault id or a Liquity v2 trove id (needs the lender)")
    @app_commands.choices(lender=[app_commands.Choice(name=name, value=key) for key, name in CHAIN_LENDER_NAMES.items()],
                          chain=[app_commands.Choice(name=c.title(), value=c)
                                 for c in ("ethereum", "arbitrum", "base", "optimism", "polygon")])
    async def track(i: discord.Interaction, address: str, lender: str | None = None, chain: str | None = None,
                    market: str | None = None):
        where = f"on {lender or 'aave-v3'}" + (f" {chain}" if chain else "") if lender or chain or market else None
        await run(i, arg("/track", address, where, market))

    @tree.command(name="untrack", description=d["untrack"])
    @app_commands.describe(position="the id of the followed position to delete")
    @app_commands.autocomplete(position=positions)
    async def untrack(i: discord.Interaction, position: app_commands.Range[int, 1, MAX_ID]):
        await run(i, arg("/untrack", position))

    @tree.command(name="capacity", description=d["capacity"])
    @app_commands.describe(position="your position's id", hf="target health factor", ltv="target LTV, %",
                           cr="target collateral ratio, %", collateral="or a hypothetical: '10 ETH on aave-v3'")
    @app_commands.autocomplete(position=positions)
    async def capacity(i: discord.Interaction, position: app_commands.Range[int, 1, MAX_ID] | None = None,
                       hf: app_commands.Range[float, 1.01, 100.0] | None = None, ltv: Percent | None = None,
                       cr: app_commands.Range[float, 100.01, 10000.0] | None = None, collateral: str | None = None):
        target = f"hf {number(hf)}" if hf else f"ltv {number(ltv)}%" if ltv else f"cr {number(cr)}%" if cr else None
        await run(i, arg("/capacity", collateral or position, target))

    @tree.command(name="whatif", description=d["whatif"])
    @app_commands.describe(asset="asset that moves (ALL: every non-stable one)", change="move in %, e.g. -30",
                           asset2="a second asset", change2="its move in %", position="only this position")
    @app_commands.autocomplete(asset=assets, asset2=assets, position=positions)
    async def whatif(i: discord.Interaction, asset: str, change: app_commands.Range[float, -100.0, 1000.0],
                     asset2: str | None = None, change2: app_commands.Range[float, -100.0, 1000.0] | None = None,
                     position: app_commands.Range[int, 1, MAX_ID] | None = None):
        moves = [f"{asset} {signed(change)}%"] + ([f"{asset2} {signed(change2)}%"] if asset2 and change2 is not None else [])
        await run(i, arg("/whatif", position, *moves))

    @tree.command(name="price", description=d["price"])
    @app_commands.describe(assets="assets, like 'ETH BTC' (default: those you hold)")
    async def price(i: discord.Interaction, assets: str | None = None):
        await run(i, arg("/price", assets))

    @tree.command(name="protocols", description=d["protocols"])
    @app_commands.describe(lender="one lender in detail (default: the list)")
    @app_commands.autocomplete(lender=lenders)
    async def protocols(i: discord.Interaction, lender: str | None = None):
        await run(i, arg("/protocols", lender))

    @tree.command(name="alerts", description=d["alerts"])
    @app_commands.describe(position="your position's id (none: all of yours)", warn="warning level (HF, or % in the lender's metric)",
                           critical="danger level", switch="warnings on or off", percent="levels are in % of LTV or CR",
                           server="this channel's group's positions instead of yours (changes need Manage Server)")
    @app_commands.choices(switch=[app_commands.Choice(name=n, value=n) for n in ("on", "off", "reset")])
    @app_commands.autocomplete(position=positions)
    async def alerts(i: discord.Interaction, position: app_commands.Range[int, 1, MAX_ID] | None = None,
                     warn: app_commands.Range[float, 1.0, 100.0] | None = None,
                     critical: app_commands.Range[float, 1.0, 100.0] | None = None, switch: str | None = None,
                     percent: bool = False, server: bool = False):
        pct = "%" if percent else ""
        levels = [f"warn {number(warn)}{pct}" if warn else None, f"critical {number(critical)}{pct}" if critical else None]
        await run(i, arg("/alerts", position, switch if position or switch in ("on", "off") else None, *levels), server)

    @tree.command(name="snooze", description=d["snooze"])
    @app_commands.describe(target="a position id, W1 for one shared here, or 'all'", duration="for how long", server=SERVER_CHANGES)
    @app_commands.choices(duration=[app_commands.Choice(name=n, value=n) for n in ("30m", "1h", "2h", "6h", "24h", "7d", "off")])
    async def snooze(i: discord.Interaction, target: str, duration: str, server: bool = False):
        await run(i, arg("/snooze", target, duration), server)

    @tree.command(name="watch", description=d["watch"])
    @app_commands.describe(position="your position to share in this channel (it becomes W1, W2...)")
    @app_commands.autocomplete(position=positions)
    async def watch(i: discord.Interaction, position: app_commands.Range[int, 1, MAX_ID]):
        await run(i, arg("/watch", position))

    @tree.command(name="unwatch", description=d["unwatch"])
    @app_commands.describe(target="W1 (see /watching), or your own position id")
    async def unwatch(i: discord.Interaction, target: str):
        await run(i, arg("/unwatch", target))

    def plain(name: str):
        async def command(i: discord.Interaction):
            await run(i, f"/{name}")

        tree.command(name=name, description=d[name])(command)

    for name in ("watching", "status"):
        plain(name)

    @tree.command(name="yield", description=d["yield"])
    @app_commands.describe(asset="the asset to earn on", chain="only this chain (e.g. Ethereum, Arbitrum)",
                           min_tvl="smallest pool size in USD, like 5m (default 1m)", stable="stablecoin pools only",
                           no_il="no impermanent-loss risk", single="single-asset pools only")
    @app_commands.autocomplete(asset=assets)
    async def yield_(i: discord.Interaction, asset: str, chain: str | None = None,
                     min_tvl: Amount | None = None, stable: bool = False,
                     no_il: bool = False, single: bool = False):
        flags = [f"chain {chain}" if chain else None, f"min-tvl {token(min_tvl)}" if min_tvl else None,
                 "stable" if stable else None, "no-il" if no_il else None, "single" if single else None]
        await run(i, arg("/yield", asset, *flags))

    @tree.command(name="rate", description=d["rate"])
    @app_commands.describe(position="your position's id", apr="what the debt costs a year, like 5.2%, or 'off' to forget it; left out: show it",
                           server=SERVER_CHANGES)
    @app_commands.autocomplete(position=positions)
    async def rate(i: discord.Interaction, position: app_commands.Range[int, 1, MAX_ID],
                   apr: app_commands.Range[str, 1, 16] | None = None, server: bool = False):
        # Text, so "off" and "5.2%" are both the core's own words and it checks the range; left out, it shows the rate.
        await run(i, arg("/rate", position, token(apr) if apr else None), server)

    @tree.command(name="carry", description=d["carry"])
    @app_commands.describe(position="your position's id", expected_yield="what the borrowed amount earns, % APY (default: the best pool)",
                           server=SERVER_READS)
    @app_commands.autocomplete(position=positions)
    async def carry(i: discord.Interaction, position: app_commands.Range[int, 1, MAX_ID],
                    expected_yield: app_commands.Range[float, 0.0, 1000.0] | None = None, server: bool = False):
        await run(i, arg("/carry", position, f"yield {number(expected_yield)}%" if expected_yield is not None else None), server)

    @tree.command(name="backtest", description=d["backtest"])
    @app_commands.describe(position="your position's id", window="which crash (default: all four)", server=SERVER_READS)
    @app_commands.choices(window=[app_commands.Choice(name=n, value=n) for n in ("2020-03", "2021-05", "2022-06", "2022-11", "all")])
    @app_commands.autocomplete(position=positions)
    async def backtest(i: discord.Interaction, position: app_commands.Range[int, 1, MAX_ID], window: str = "all",
                       server: bool = False):
        await run(i, arg("/backtest", position, window), server)

    @tree.command(name="risk", description=d["risk"])
    @app_commands.describe(position="your position's id", server=SERVER_READS)
    @app_commands.autocomplete(position=positions)
    async def risk(i: discord.Interaction, position: app_commands.Range[int, 1, MAX_ID], server: bool = False):
        await run(i, arg("/risk", position), server)

    @tree.command(name="mining", description=d["mining"])
    @app_commands.describe(action="add, remove, or one fleet's loan / pledge / whatif (empty: your fleets)",
                           fleet="the fleet's id", details="for add: '200 TH/s 17.5 J/TH power 0.06 pool 2%'; "
                                                           "for loan: a position id or off; pledge: '50%'; "
                                                           "whatif: 'difficulty +10%', 'halving', 'power 0.08', 'BTC -30%'")
    @app_commands.choices(action=[app_commands.Choice(name=n, value=n) for n in ("show", "add", "loan", "pledge", "whatif",
                                                                                  "remove")])
    async def mining(i: discord.Interaction, action: str = "show", fleet: app_commands.Range[int, 1, MAX_ID] | None = None,
                     details: str | None = None):
        if action == "show":
            await run(i, arg("/mining", fleet))
        elif action in ("add", "remove"):
            await run(i, arg("/mining", action, details if action == "add" else fleet))
        else:
            await run(i, arg("/mining", fleet, action, details))

    @tree.command(name="il", description=d["il"])
    @app_commands.describe(pair="the pool pair, like ETH-USDC", start_price="price when you entered", end_price="price now or then",
                           range_low="concentrated range: lower price", range_high="concentrated range: upper price")
    async def il_(i: discord.Interaction, pair: str, start_price: Amount, end_price: Amount,
                  range_low: Amount | None = None, range_high: Amount | None = None):
        span = f"range {token(range_low)}-{token(range_high)}" if range_low and range_high else None
        await run(i, arg("/il", pair, token(start_price), token(end_price), span))

    @tree.command(name="chart", description=d["chart"])
    @app_commands.describe(position="your position's id", whatif="health factor against price instead of recent prices",
                           server=SERVER_READS)
    @app_commands.autocomplete(position=positions)
    async def chart(i: discord.Interaction, position: app_commands.Range[int, 1, MAX_ID], whatif: bool = False,
                    server: bool = False):
        await run(i, arg("/chart", position, "whatif" if whatif else None), server)

    @tree.command(name="export", description=d["export"])
    @app_commands.describe(server="this channel's group's data instead of yours (needs Manage Server)")
    async def export(i: discord.Interaction, server: bool = False):
        await run(i, "/export", server)

    @tree.command(name="forget", description=d["forget"])
    @app_commands.describe(server="delete this channel's group's data instead of yours (needs Manage Server)")
    async def forget(i: discord.Interaction, server: bool = False):
        await run(i, "/forget", server)
