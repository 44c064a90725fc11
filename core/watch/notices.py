"""Pushed messages: what a warning says, how it is stored in the outbox, and its Reply form."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal

from core.lending.models import ChatRef, Severity
from core.lending.numbers import fmt_amount, fmt_hf
from core.replies import Button, Line, Reply, Section
from core.watch.alerts import DANGER, LIQUIDATABLE, OK, WARNING

SEVERITY = {OK: Severity.OK, WARNING: Severity.WARNING, DANGER: Severity.DANGER, LIQUIDATABLE: Severity.LIQUIDATABLE}
LABEL = {"worse": {WARNING: "WARNING", DANGER: "DANGER", LIQUIDATABLE: "LIQUIDATABLE"},
         "reminder": {DANGER: "STILL IN DANGER", LIQUIDATABLE: "STILL LIQUIDATABLE"},
         "safe": {OK: "BACK TO SAFE"}}
# Kinds whose label does not depend on the level: monitoring and delivery notices, news from the chain and mining
KIND_LABELS = {"degraded": "MONITORING PAUSED", "restored": "MONITORING RESTORED", "disabled": "DELIVERY STOPPED",
               "enabled": "DELIVERY RESTARTED", "next-price": "LIQUIDATABLE SOON", "redemption-risk": "REDEMPTION RISK",
               "redemption-clear": "REDEMPTION RISK OVER", "mining-loss": "MINING AT A LOSS",
               "mining-profit": "MINING PROFITABLE AGAIN", "mining-call-ahead": "MARGIN CALL AHEAD",
               "mining-call-clear": "MARGIN CALL NO LONGER AHEAD"}
_B32 = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
# Compact UTF-8 JSON: a crash fan-out encodes thousands of payloads inside one tick.
_ENCODE = json.JSONEncoder(ensure_ascii=False, check_circular=False, separators=(",", ":")).encode


def alert_id(row_id: int) -> str:
    """A short id for an outbox row ('A-00K3'), the same on every copy of the message."""
    digits = ""
    while row_id:
        row_id, r = divmod(row_id, 32)
        digits = _B32[r] + digits
    return "A-" + digits.rjust(4, "0")


@dataclass(frozen=True)
class AlertItem:
    """One line of a pushed message."""

    kind: str  # "worse", "reminder", "safe", "degraded", "restored"; from the chain: "liquidated", "redeemed", "next-price",
    # "redemption-risk", "redemption-clear"
    level: int  # the position's alert level; -1 for monitoring notices
    ref: str  # how this chat names the position ("#1 (main)", "W2: alice's #3"); "" for monitoring notices
    text: str
    hf: float | None = None
    buttons: tuple[tuple[str, str], ...] = ()  # (label, command) pressed by whoever reads it
    position_id: int | None = None  # the position the buttons act on (a press then acts on it or on nothing)

    @property
    def label(self) -> str:
        """'DANGER', 'BACK TO SAFE', 'MONITORING PAUSED' ..."""
        if self.kind in KIND_LABELS:
            return KIND_LABELS[self.kind]
        return LABEL.get(self.kind, {}).get(self.level, self.kind.upper())


@dataclass(frozen=True)
class Notice:
    """A message for one chat: what changed this tick, most urgent first."""

    chat: ChatRef
    items: tuple[AlertItem, ...]
    tick_at: float  # the (possibly simulated) time of the tick that produced it
    alert_id: str = ""

    @property
    def urgency(self) -> float:
        """Lower is more urgent: the lowest health factor among its items."""
        hfs = [i.hf for i in self.items if i.hf is not None]
        return min(hfs) if hfs else 1e9

    @property
    def critical(self) -> bool:
        """Contains danger or liquidation (worth a retry even at the risk of a duplicate)."""
        return any(i.level >= DANGER and i.kind in ("worse", "reminder", "liquidated", "redeemed", "next-price") for i in self.items)

    def to_json(self) -> str:
        """The outbox payload."""
        chat = {"platform": self.chat.platform, "chat_id": self.chat.chat_id, "is_group": self.chat.is_group}
        items = [{"kind": i.kind, "level": i.level, "ref": i.ref, "text": i.text, "hf": i.hf, "buttons": i.buttons,
                  "position_id": i.position_id} for i in self.items]
        return _ENCODE({"chat": chat, "tick_at": self.tick_at, "items": items})

    @classmethod
    def from_json(cls, text: str, alert: str) -> Notice:
        """Inverse of to_json, with the id of the row it came from."""
        data = json.loads(text)
        items = tuple(AlertItem(**{**i, "buttons": tuple(tuple(b) for b in i["buttons"])}) for i in data["items"])
        return cls(ChatRef(**data["chat"]), items, data["tick_at"], alert)


POSITION_KINDS = ("worse", "reminder", "safe", "liquidated", "redeemed", "next-price", "redemption-risk", "redemption-clear",
                  "mining-loss", "mining-profit", "mining-call-ahead", "mining-call-clear")


def redemption_text(ref: str, d: dict) -> str:
    """A Liquity v2 trove's redemption line crossed: how much debt stands in front, and what a safer rate costs."""
    amount = f"{fmt_amount(Decimal(str(round(d['front']))))} BOLD" if round(d["front"]) else "no debt"
    front = f"{amount} ({d['share']:.1%} of the {d['branch']} branch's debt)"
    if d["event"] == "redemption-clear":
        return f"{ref}: {front} now stands before it in redemption order, above your {d['line']:.1%} line."
    text = (f"{ref}: only {front} stands before it in redemption order, under your {d['line']:.1%} line; redemptions "
            f"take the lowest interest rates first and would swap its collateral for its debt.")
    rate, fee = d.get("safer_rate"), d.get("safer_fee")
    if rate is not None and rate > 0:
        yearly = d["debt"] * (rate - d["rate"])
        text += (f" Raising its rate from {d['rate']:.2%} to {rate:.2%} would put at least {d['safer_share']:.0%} in front: "
                 f"{fmt_amount(Decimal(str(round(yearly))))} BOLD a year more")
        text += (f", plus {fmt_amount(Decimal(str(round(fee, 2))))} BOLD now (a change within 7 days of the last)."
                 if fee else ", and no fee now (the last change is over 7 days old).")
    elif rate is not None:
        text += (f" No rate among the next troves up puts {d['safer_share']:.0%} in front of it: only repaying shrinks "
                 "what a redemption can take.")
    return text


def sort_items(items: list[AlertItem]) -> tuple[AlertItem, ...]:
    """Most urgent first: lowest health factor, monitoring notices after the positions."""
    return tuple(sorted(items, key=lambda i: (i.hf is None, i.hf if i.hf is not None else 0.0, i.ref)))


def notice_reply(notice: Notice, shown: int | None = None) -> Reply:
    """A Reply any adapter can render: title with the alert id, one line per item, the top item's buttons.

    `shown` keeps only the most urgent items (for platforms with a length limit) and says how many are left out.
    """
    items = notice.items
    position_items = [i for i in items if i.kind in POSITION_KINDS]
    refs = {i.ref for i in position_items}
    if len(items) == 1 or (len(refs) == 1 and len(position_items) == len(items)):  # one position: its most urgent news
        first = items[0]
        title = f"{first.label}: {first.ref}" if first.ref else first.label
    else:
        title = f"{len(refs)} position{'s' if len(refs) != 1 else ''} changed" if position_items else "Price monitoring"
    severity = max((SEVERITY.get(i.level, Severity.INFO) for i in position_items if i.kind not in ("safe", "redemption-clear", "mining-profit", "mining-call-clear")),
                   default=Severity.OK)
    lines = tuple(Line(i.label, i.text) for i in items[:shown])
    if shown is not None and shown < len(items):
        lines += (Line("", f"…and {len(items) - shown} more: /positions shows them all"),)
    buttons = tuple(Button(label, command, items[0].position_id) for label, command in (items[0].buttons if items else ()))
    return Reply(f"{title} [{notice.alert_id}]", (Section(None, lines),), severity, buttons=buttons,
                 footer=f"alert {notice.alert_id}: if you see it twice, it is the same alert")


def hf_phrase(hf: float, warn: float, danger: float, level: int) -> str:
    """'health factor 1.18 (danger below 1.20)'."""
    if level == LIQUIDATABLE:
        return f"health factor {fmt_hf(hf)}, below 1.00: it can be liquidated now"
    if level == DANGER:
        return f"health factor {fmt_hf(hf)} (danger below {fmt_hf(danger)})"
    if level == WARNING:
        return f"health factor {fmt_hf(hf)} (warning below {fmt_hf(warn)})"
    return f"health factor {fmt_hf(hf)}"
