"""/track and /untrack: positions that follow a wallet on chain, with the lender's own numbers."""

from __future__ import annotations

from core.chain.abi import BadReturn
from core.chain.ens import NotResolved
from core.chain.liquity2 import REDEMPTION_LINE
from core.chain.rpc import RpcError
from core.chain.tracker import LENDERS, Found, Tracker, legs_of, reading_of
from core.chat.commands import Command
from core.chat.context import Context
from core.chat.handlers import handles
from core.errors import ChainUnavailable, LimitReached, NotPermitted, UsageError
from core.lending.models import Actor, Overrides, Position
from core.lending.numbers import age_text, fmt_amount, fmt_usd
from core.replies import Line, Reply, Section, paragraph
from core.storage.store import ChainLink

MAX_ADDRESSES_PER_OWNER = 10
ORACLE_GAP = 0.005  # show the market's price beside the oracle's when they differ by more than this


def short(address: str) -> str:
    """0x1234…abcd: enough for the owner to recognise, never shown outside their own chat."""
    return f"{address[:6]}…{address[-4:]}"


@handles("track")
async def _cmd_track(ctx: Context, actor: Actor, cmd: Command) -> Reply:
    if actor.chat.is_group:
        raise NotPermitted("An address is yours alone: send /track to me privately, then /watch ID here shares its "
                           "warnings without the address.")
    tracker = ctx.tracker
    if tracker is None:
        return Reply.failure("This bot reads no chain (no RPC URL is configured).")
    name, address = await _address_of(tracker, cmd)
    links = ctx.store.chain_links("position_id IN (SELECT id FROM positions WHERE owner_key = ?)", [actor.user.key])
    followed = {link.address for link in links}
    if address not in followed and len(followed) >= MAX_ADDRESSES_PER_OWNER:
        raise LimitReached(f"You already follow {MAX_ADDRESSES_PER_OWNER} addresses, the most one owner may; "
                           "/untrack one first.")
    lenders = [cmd.lender] if cmd.lender else list(LENDERS)
    chains = _chains(tracker, cmd.chain)
    if not chains:
        return Reply.failure(f"No RPC URL is set for {cmd.chain or 'any chain'}: set RPC_URL_{(cmd.chain or 'ETHEREUM').upper()}.")
    found, failed = await tracker.find(address, lenders, chains, cmd.market_ref)
    notes = [f"Could not read {', '.join(failed)}; /status shows each chain."] if failed else []
    if not found:
        return Reply(_nothing_found(address, lenders, [tracker.book.chains[c].name for c in chains], cmd.market_ref,
                                    bool(failed)), paragraph(*notes) if notes else ())
    added, already = [], []
    for f in found:
        same = next((link for link in links if (link.address, link.chain, link.lender, link.market_ref)
                     == (address, f.chain, f.lender, f.market_ref)), None)
        if same is not None:
            already.append(next(p for p in ctx.store.positions(actor.user) if p.row_id == same.position_id))
            continue
        added.append(_store(ctx, actor, address, f, tracker.book.chains[f.chain].name, name))
    lines = [Line(p.ref, _summary(ctx, p)) for p in added + already]
    shown = f"{name} ({short(address)})" if name else short(address)
    title = (f"Following {shown}: {len(added)} position{'s' if len(added) != 1 else ''} added"
             if added else f"{shown} is already followed")
    notes.append("Amounts, interest, thresholds and prices now come from the chain every tick; change the position in "
                 "your wallet and the bot follows. /untrack ID stops it.")
    return Reply(title, (Section(None, tuple(lines)), *paragraph(*notes)), footer="/health ID for details")


async def _address_of(tracker: Tracker, cmd: Command) -> tuple[str | None, str]:
    """(the ENS name given, or None; the address), an ENS name resolved once, now, on Ethereum."""
    assert cmd.address is not None  # the grammar requires one
    if not cmd.address.endswith(".eth"):
        return None, cmd.address
    try:
        return cmd.address, await tracker.resolve_name(cmd.address)
    except NotResolved:
        raise UsageError(f"{cmd.address} does not resolve to an address on Ethereum.") from None
    except (RpcError, BadReturn) as err:
        raise ChainUnavailable(f"Could not resolve {cmd.address}: {err.message}.") from None


def _chains(tracker: Tracker, chain: str | None) -> list[str]:
    """The chain asked for, or every chain some lender is read on, in the book's order, that has a usable RPC URL."""
    book = tracker.book
    offered = [c for c in book.chains if c in book.aave or c in book.morpho or c in book.comets or c in book.maker
               or c in book.liquity or c in book.liquity2]
    return [c for c in ([chain] if chain else offered) if tracker.usable(c)]


def _nothing_found(address: str, lenders: list[str], chains: list[str], market: str | None, failed: bool) -> str:
    """What was searched, in one sentence."""
    where = ", ".join(chains)
    if failed:
        return f"No position found for {short(address)} on what could be read ({where})."
    names = [LENDERS[x] for x in lenders]
    which = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
    markets = (" in that market" if market else
               " (Morpho Blue: in its major markets; give a market id for another)" if "morpho" in lenders else "")
    return f"{short(address)} has no {which} position on {where}{markets}."


def _store(ctx: Context, actor: Actor, address: str, f: Found, chain_name: str, name: str | None) -> Position:
    collateral, debt = legs_of(f.account)
    market = f.market_name or {"morpho": None, "compound-v3": "usdc", "liquity-v1": "ETH"}.get(
        f.lender, "eth-emode" if f.chain == "ethereum" and f.account.emode == 1 else "core")
    link = ChainLink(f.chain, f.lender, address, name, reading_of(f.account, f.head, chain_name), ctx.clock.time(),
                     market_ref=f.market_ref)
    ctx.store.set_display_name(actor.user, actor.name)
    position = ctx.store.add_position(actor.user, f.lender, market, collateral, debt, Overrides(),
                                      f"{chain_name} wallet", follows=link)
    ctx.events.position_changed(position.stored_id)
    return position


def _summary(ctx: Context, position: Position) -> str:
    link = ctx.link_of(position)
    reading = link.reading if link else {}
    hf = reading.get("hf")
    own = f"HF {hf:.6f} (the lender's own)" if hf is not None else "borrows nothing"
    return (f"{LENDERS.get(position.protocol, position.protocol)} on {reading.get('chain_name', '?')}: "
            f"{fmt_usd(reading.get('collateral_usd', 0.0))} collateral, {fmt_usd(reading.get('debt_usd', 0.0))} debt, {own}")


@handles("untrack")
async def _cmd_untrack(ctx: Context, actor: Actor, cmd: Command) -> Reply:
    owner = ctx.owner(actor)
    position = ctx.position(owner, cmd.id)
    if ctx.link_of(position) is None:
        raise UsageError(f"{position.ref} does not follow a wallet; /remove {position.number} deletes it.")
    ctx.store.delete_position(owner, position.number)
    ctx.events.position_removed(position.stored_id)
    return Reply(f"Stopped following {position.ref}; it is deleted.")


async def chain_section(ctx: Context, position: Position, link: ChainLink) -> Section:
    """What the chain said: the lender's own health factor, the block and its age, e-mode, oracle against market."""
    reading = link.reading
    lines = []
    hf = reading.get("hf")
    lines.append(Line("Lender's health factor", f"{hf:.6f}" if hf is not None else "no debt"))
    age = max(0.0, ctx.clock.time() - float(reading.get("block_time", 0)))
    lines.append(Line("Read from", f"{reading.get('chain_name', link.chain)} block {reading.get('block', 0):,} "
                                   f"({age_text(age)} old by block time)"))
    system = reading.get("system", {})
    if position.protocol == "liquity-v2":
        lines += _redemption_lines(ctx, position, system)
    elif "tcr" in system:
        state = ("RECOVERY MODE: a trove under 150% can be liquidated" if system.get("recovery")
                 else "recovery mode starts below 150%")
        lines.append(Line("System collateral ratio", f"{system['tcr']:.0%} ({state})"))
    if reading.get("emode"):
        lines.append(Line("E-mode", f"category {reading['emode']}: its thresholds apply"))
    market = await ctx.prices.snapshot(position.assets())
    for symbol, oracle in sorted(reading.get("prices", {}).items()):
        seen = market.price(symbol)
        if seen and abs(oracle / seen - 1) > ORACLE_GAP:
            lines.append(Line(f"{symbol} price", f"{fmt_usd(oracle)} by the lender's oracle, {fmt_usd(seen)} on the market "
                                                 f"({oracle / seen - 1:+.1%}); the lender liquidates at its own"))
    if reading.get("unlisted"):
        lines.append(Line("Not shown", f"{len(reading['unlisted'])} reserve(s) this bot does not list; "
                                       "the lender's health factor above counts them"))
    differs = ctx.presets.preset_differences(ctx.terms_of(position))
    if differs:
        lines.append(Line("Preset out of date", "the chain wins: " + "; ".join(differs)))
    return Section("From the chain", tuple(lines))


def _redemption_lines(ctx: Context, position: Position, system: dict) -> list[Line]:
    """A Liquity v2 trove: its rate, the debt redeemed before it, its owner's line, the branch's state."""
    line = ctx.store.alert_settings(position)["redemption"]
    custom = line is not None
    line = REDEMPTION_LINE if line is None else line
    lines = []
    if system.get("zombie"):
        lines.append(Line("Redemption", "ZOMBIE: a redemption left it under the 2,000 BOLD minimum; it is redeemed first, "
                                        "before every rate, until its debt is raised or it is closed"))
    elif system.get("branch_debt"):
        share = system["front"] / system["branch_debt"]
        state = "UNDER your line" if share < line else "above your line"
        lines.append(Line("Interest rate", f"{system.get('rate', 0):.2%} a year (redemptions take the lowest rates first)"))
        more = "more than " if system.get("front_floor") else ""  # the walk stopped before reaching it
        lines.append(Line("Debt in front", f"{more}{fmt_amount(round(system['front']))} BOLD, {more}{share:.1%} of the branch's "
                                           f"{fmt_amount(round(system['branch_debt']))} BOLD; {state} of {line:.1%}"
                                           f"{'' if custom else ' (default; /alerts ID redemption 10% sets it)'}"))
    if "tcr" in system:
        tcr, ccr, scr = system["tcr"], system.get("ccr", 1.5), system.get("scr", 1.1)
        state = ("SHUT DOWN: only closing troves and urgent redemptions remain" if system.get("shutdown")
                 else f"under {ccr:.0%}: borrowing that lowers it is refused" if tcr < ccr
                 else f"shuts down below {scr:.0%}")
        lines.append(Line("Branch collateral ratio", f"{tcr:.0%} ({state})"))
    if system.get("oracle_failed"):
        lines.append(Line("Branch price", "its oracle failed: it uses its last good price, and the branch shuts down"))
    return lines


def follows_chain(ctx: Context, position: Position) -> None:
    """Refuse a change by hand to a position that follows a wallet."""
    if ctx.link_of(position) is not None:
        raise UsageError(f"{position.ref}: this position follows the chain; change it in your wallet and the bot "
                         f"follows (/untrack {position.number} stops following it).")

