"""Handlers that register and change positions: /add /positions /health /deposit /withdraw /borrow /repay /remove /export /forget."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from core.chat import views
from core.chat.chain_commands import chain_section, follows_chain
from core.chat.commands import COMMANDS, Command, PositionSpec
from core.chat.context import Context
from core.chat.grammar import MAX_LEGS
from core.chat.handlers import HANDLERS, handles
from core.errors import (
    CoreError,
    InvalidAmount,
    InvalidChange,
    LimitReached,
    UnsupportedByProtocol,
)
from core.lending.models import Actor, Leg, Position, Severity
from core.lending.numbers import MAX_AMOUNT, fmt_amount, fmt_hf
from core.lending.protocols import Terms
from core.replies import Attachment, Button, Reply, Section, paragraph, text_lines
from core.storage.fleets import Fleets

DETAILED_HEALTH_MAX = 3  # /health with no id shows each position in full up to this many, else the list


@handles("add")
async def _cmd_add(ctx: Context, actor: Actor, cmd: Command) -> Reply:
    spec = cmd.spec
    assert spec is not None and spec.protocol is not None
    await ctx.require_admin(actor, "register the group's positions")
    terms = ctx.terms(spec.protocol, spec.market, spec.collateral, spec.debt, spec.overrides)
    ctx.check_overrides(terms, spec.overrides)
    debt, notes = opening_debt(ctx, terms, spec)
    owner = ctx.owner(actor)
    position = ctx.store.add_position(
        owner, terms.preset.id, terms.market.id, spec.collateral, debt, spec.overrides, spec.label
    )
    ctx.store.set_display_name(owner, actor.name if owner == actor.user else "")
    ctx.events.position_changed(position.stored_id)
    val = await ctx.value_of(position)
    if val.priced and val.hf < 1:  # most likely a typo in an amount; stored anyway, since it may be real
        notes.append(f"At today's prices this is liquidatable (health factor {fmt_hf(val.hf)}): check the amounts.")
    title = f"Added {position.ref}: {views.position_summary(position)} on {views.lender_name(terms)}"
    extra = (Section("Note", text_lines(*notes)),) if notes else ()
    return ctx.detail(title, val, extra=extra)


def opening_debt(ctx: Context, terms: Terms, spec: PositionSpec) -> tuple[tuple[Leg, ...], list[str]]:
    """The debt as the lender books it (Liquity v1 adds its fee and gas reserve), plus notes."""
    params = terms.market.params
    debt = spec.debt
    notes: list[str] = []
    if terms.preset.id == "liquity-v1" and debt:
        fee = Decimal(repr(terms.draw_fee))  # the position's own 'fee X%', else the preset's (Terms resolved it)
        low, high = (Decimal(x) for x in params["borrowing_fee_range"])
        if not low <= fee <= high:
            raise UnsupportedByProtocol(f"Liquity v1's borrowing fee is between {low:.1%} and {high:.0%}.")
        net = debt[0].amount
        reserve = Decimal(str(params["gas_reserve"]))
        total = net + net * fee + reserve
        debt = (Leg(debt[0].asset, total),)
        notes.append(
            f"Liquity books {fmt_amount(total)} LUSD: {fmt_amount(net)} borrowed + {fmt_amount(net * fee)} "
            f"fee ({fee:.1%}) + {fmt_amount(reserve)} gas reserve."
        )
        if net < Decimal(str(params["min_net_debt"])):
            notes.append(f"Liquity v1 needs at least {fmt_amount(Decimal(str(params['min_net_debt'])))} LUSD net debt.")
    minimum = params.get("min_debt")
    if minimum is not None and debt and debt[0].amount < Decimal(str(minimum)):
        notes.append(f"{views.lender_name(terms)} needs at least {fmt_amount(Decimal(str(minimum)))} {debt[0].asset} of debt.")
    return debt, notes


@handles("positions")
async def _cmd_positions(ctx: Context, actor: Actor, cmd: Command) -> Reply:
    positions = ctx.store.positions(ctx.owner(actor))
    if not positions:
        return Reply("You have no positions yet.", paragraph("Try: /add 10 ETH borrow 15000 USDC on aave-v3"))
    lines, worst = [], Severity.INFO
    for position in positions:
        try:
            val = await ctx.value_of(position)
        except CoreError as err:
            lines.append(views.compact(position, None, err.message))
            continue
        worst = max(worst, val.severity)
        lines.append(views.compact(position, val))
    return Reply(f"Your positions ({len(positions)})", (Section(None, tuple(lines)),), worst,
                 footer="/health ID for details")


@handles("health")
async def _cmd_health(ctx: Context, actor: Actor, cmd: Command) -> Reply:
    owner = ctx.owner(actor)
    if cmd.number is not None or cmd.watch is not None:
        position = ctx.lookup(actor, cmd.number, cmd.watch)
        val = await ctx.value_of(position)
        ref = f"W{cmd.watch}" if cmd.watch is not None else position.ref
        return ctx.detail(f"{ref} · {views.lender_name(val.terms)}", val, extra=await _chain_extra(ctx, position))
    positions = ctx.store.positions(owner)
    if not positions:
        return Reply("You have no positions yet.", paragraph("Try: /add 10 ETH borrow 15000 USDC on aave-v3"))
    if len(positions) > DETAILED_HEALTH_MAX:
        return await _cmd_positions(ctx, actor, cmd)
    replies = []
    for position in positions:
        val = await ctx.value_of(position)
        replies.append(ctx.detail(f"{position.ref} · {views.lender_name(val.terms)}", val,
                                  extra=await _chain_extra(ctx, position)))
    if len(replies) == 1:
        return replies[0]
    sections = []
    for r in replies:
        sections.append(Section(r.title, ()))
        sections.extend(r.sections)
    return Reply(f"Your positions ({len(replies)})", tuple(sections), max(r.severity for r in replies),
                 footer=replies[-1].footer)


async def _chain_extra(ctx: Context, position: Position) -> tuple[Section, ...]:
    link = ctx.link_of(position)
    return (await chain_section(ctx, position, link),) if link is not None else ()


async def _change(ctx: Context, actor: Actor, cmd: Command) -> Reply:
    await ctx.require_admin(actor, "change the group's positions")
    position = ctx.position(ctx.owner(actor), cmd.id)
    follows_chain(ctx, position)
    before = await ctx.value_of(position)
    collateral = {leg.asset: leg.amount for leg in position.collateral}
    debt = {leg.asset: leg.amount for leg in position.debt}
    side = collateral if cmd.name in ("deposit", "withdraw") else debt
    for leg in cmd.legs:
        if cmd.name in ("deposit", "borrow"):
            amount = leg.amount
            if cmd.name == "borrow" and position.protocol == "liquity-v1":
                amount += leg.amount * Decimal(repr(before.terms.draw_fee))
            side[leg.asset] = side.get(leg.asset, Decimal(0)) + amount
            if side[leg.asset] > MAX_AMOUNT:
                raise InvalidAmount(f"That would make {fmt_amount(side[leg.asset])} {leg.asset}, more than this bot "
                                    "handles (1e15).", COMMANDS[cmd.name].usage)
            continue
        held = side.get(leg.asset)
        noun = "hold" if cmd.name == "withdraw" else "owe"
        if held is None:
            raise InvalidChange(f"{position.ref} has no {leg.asset} to {cmd.name}.", COMMANDS[cmd.name].usage)
        if leg.amount > held:
            raise InvalidChange(f"You {noun} only {fmt_amount(held)} {leg.asset} in {position.ref}.", COMMANDS[cmd.name].usage)
        if leg.amount == held:
            del side[leg.asset]
        else:
            side[leg.asset] = held - leg.amount
    new_coll = tuple(Leg(a, amt) for a, amt in collateral.items())
    new_debt = tuple(Leg(a, amt) for a, amt in debt.items())
    if len(new_coll) > MAX_LEGS or len(new_debt) > MAX_LEGS:
        raise LimitReached(f"At most {MAX_LEGS} assets on each side of a position.")
    if not new_coll and new_debt:
        raise InvalidChange("You cannot take out all collateral while you still owe; repay first.", COMMANDS[cmd.name].usage)
    if not new_coll:
        raise InvalidChange(f"That would empty {position.ref}; use /remove {position.number} instead.")
    ctx.terms(position.protocol, position.market, new_coll, new_debt, position.overrides)  # still a valid position?
    updated = ctx.store.replace_legs(position, new_coll, new_debt)
    ctx.events.position_changed(updated.stored_id)
    after = await ctx.value_of(updated)
    verb = {"deposit": "Deposited", "withdraw": "Withdrew", "borrow": "Borrowed", "repay": "Repaid"}[cmd.name]
    title = f"{verb} {views.legs_text(cmd.legs)} {'into' if cmd.name == 'deposit' else 'on' if cmd.name == 'borrow' else 'from'} {position.ref}"
    notes = []
    if before.priced and after.priced:
        notes.append(f"Health factor {fmt_hf(before.hf)} → {fmt_hf(after.hf)}")
        if after.hf < 1 <= before.hf or (after.hf < 1 and cmd.name in ("withdraw", "borrow")):
            notes.append("The lender would normally refuse this: the position would be liquidatable.")
    elif cmd.name in ("withdraw", "borrow"):
        missing = ", ".join(after.missing or before.missing)
        notes.append(f"No price for {missing} right now, so I could not check what this does to the health factor.")
    return ctx.detail(title, after, extra=(Section("Change", text_lines(*notes)),) if notes else ())


for _name in ("deposit", "withdraw", "borrow", "repay"):  # one handler, four commands
    HANDLERS[_name] = _change


@handles("remove")
async def _cmd_remove(ctx: Context, actor: Actor, cmd: Command) -> Reply:
    await ctx.require_admin(actor, "remove the group's positions")
    owner = ctx.owner(actor)
    position = ctx.position(owner, cmd.id)
    if not cmd.confirmed:
        return Reply(
            f"Remove {position.ref} ({views.position_summary(position)})?",
            paragraph(f"This cannot be undone. Send /remove {position.number} yes to confirm."),
            buttons=(Button("Remove it", f"/remove {position.number} yes", position.row_id), Button("Keep it", None)),
        )
    ctx.store.delete_position(owner, position.number)
    ctx.events.position_removed(position.stored_id)
    return Reply(f"Removed {position.ref}.")


@handles("export")
async def _cmd_export(ctx: Context, actor: Actor, cmd: Command) -> Reply:
    await ctx.require_admin(actor, "export the group's data")
    owner = ctx.owner(actor)
    positions = ctx.store.positions(owner)
    data = {
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "owner": owner.key,
        "warnings_on": ctx.store.alerts_enabled(owner),
        "positions": [_exported(ctx, p) for p in positions],
        "mining_fleets": [{"id": f.number, "hashrate_th": f.hashrate_th, "efficiency_j_th": f.efficiency_j_th,
                           "power_usd_kwh": f.power_usd_kwh, "pool_fee": f.pool_fee, "pledge": f.pledge,
                           "loan": next((p.number for p in positions if p.stored_id == f.loan_position_id), None)}
                          for f in Fleets(ctx.store).of(owner)],
    }
    body = json.dumps(data, indent=2).encode()
    return Reply(
        f"Your data: {len(positions)} position{'s' if len(positions) != 1 else ''}",
        attachment=Attachment("collateral-bot-export.json", body, "application/json"),
    )


def _exported(ctx: Context, p: Position) -> dict:
    """Everything stored about one position: legs, lender, overrides, warning options, rate, where it is shared."""
    alerts = ctx.store.alert_settings(p)
    snoozed = alerts["snoozed_until"]
    return {
        "id": p.number,
        "label": p.label,
        "protocol": p.protocol,
        "market": p.market,
        "collateral": [{"asset": leg.asset, "amount": str(leg.amount)} for leg in p.collateral],
        "debt": [{"asset": leg.asset, "amount": str(leg.amount)} for leg in p.debt],
        "overrides": p.overrides.as_dict(),
        "created_at": p.created_at,
        "borrow_apr": ctx.store.borrow_apr(p),
        "warnings": {
            "on": alerts["enabled"],
            "warn_below_hf": alerts["warn"],  # None: the lender's default
            "danger_below_hf": alerts["critical"],
            "redemption_line": alerts["redemption"],  # a Liquity v2 trove's; None: the default (5 %)
            "snoozed_until": datetime.fromtimestamp(snoozed, UTC).isoformat(timespec="seconds")
            if snoozed and snoozed > ctx.clock.time() else None,
        },
        "shared_in": [{"chat": key, "title": title, "as": f"W{number}"} for key, title, number in ctx.store.shared_in(p)],
        "follows": _followed(ctx, p),
    }


def _followed(ctx: Context, p: Position) -> dict | None:
    """The wallet a position follows (the owner's own data, so it is exported), or None."""
    link = ctx.link_of(p)
    if link is None:
        return None
    return {"address": link.address, "ens": link.ens, "chain": link.chain, "lender": link.lender, "market": link.market_ref,
            "block": link.reading.get("block"),
            "lender_health_factor": link.reading.get("hf")}


@handles("forget")
async def _cmd_forget(ctx: Context, actor: Actor, cmd: Command) -> Reply:
    await ctx.require_admin(actor, "delete the group's data")
    owner = ctx.owner(actor)
    if not cmd.confirmed:
        count = len(ctx.store.positions(owner))
        return Reply(
            f"Delete all your data ({count} position{'s' if count != 1 else ''} and settings)?",
            paragraph("This cannot be undone. Send /forget yes to confirm; /export first keeps a copy."),
            buttons=(Button("Delete everything", "/forget yes"), Button("Keep it", None)),
        )
    gone = [p.stored_id for p in ctx.store.positions(owner)]
    count = ctx.store.forget(owner)
    for row_id in gone:
        ctx.events.position_removed(row_id)
    return Reply(f"Done: deleted {count} position{'s' if count != 1 else ''} and everything else about you.")
