"""Alert rules for one position: levels, hysteresis, reminders, snooze and mute, as a pure function.

Levels: 0 ok, 1 warning (HF below warn), 2 danger (below critical), 3 liquidatable (below 1).
A worse level is announced at once; while in danger or liquidatable a reminder repeats, first
after 60 or 15 minutes, then each pause twice the last (15, 30 min, 1 h, 2 h ...) up to a cap,
12 h unless the owner set another; a worse level starts the pace again; going back needs the health factor to clear the boundary by a recovery margin, so a
price flapping on a threshold announces one crossing, not one per tick; reaching ok after an
announcement sends "back to safe", which closes the episode.

A snooze holds back new warnings below liquidatable and every reminder; becoming liquidatable
still goes out, and so does "back to safe" (good news about something the user was told).
Muting (warnings off) holds back everything; an all-clear owed from before goes out once
warnings are back on, if the position is still safe then.
The first look at a position (new, or first priced) is quiet: it tells nothing, so it leaves
last_sent alone and a position first seen in danger gets its reminder at the next look.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

UNKNOWN, OK, WARNING, DANGER, LIQUIDATABLE = -1, 0, 1, 2, 3
LEVEL_NAMES = {OK: "ok", WARNING: "warning", DANGER: "danger", LIQUIDATABLE: "liquidatable"}


@dataclass(frozen=True)
class Policy:
    """Tunable timing and hysteresis."""

    rearm_margin: float = 0.02  # HF must clear a boundary by 2 % before a level is left
    remind_danger: float = 3600.0
    remind_liquidatable: float = 900.0
    remind_cap: float = 12 * 3600.0  # the longest pause between reminders, unless the owner sets another

    def reminder_interval(self, level: int) -> float | None:
        """Seconds before the first reminder at this level (None: no reminders)."""
        return {DANGER: self.remind_danger, LIQUIDATABLE: self.remind_liquidatable}.get(level)


def reminder_pause(first: float, since: float, last_sent: float, cap: float) -> float:
    """The pause before the next reminder: each is twice the one before (15, 30, 60 min ...), at most `cap`.

    Stateless: after reminders at since+15, +45, +105 min, the time told so far plus the first
    pause is the doubled pause (105 + 15 = 120), so nothing new needs storing. A last message
    within the first pause of the level's start was its announcement: the first pause follows.
    """
    told_for = last_sent - since
    return first if told_for < first else min(cap, told_for + first)


@dataclass(frozen=True)
class AlertState:
    """What the engine remembers per position."""

    level: int = UNKNOWN
    since: float = 0.0  # when it entered this level
    last_sent: float = 0.0  # when the owner was last told anything about it (0: never)
    told: int = OK  # the worst level announced and not yet closed by "back to safe"


def level_of(hf: float, warn: float, danger: float, scale: float = 1.0) -> int:
    """The level for a health factor, with every boundary multiplied by `scale`."""
    if math.isnan(hf):
        return UNKNOWN
    return int(hf < warn * scale) + int(hf < danger * scale) + int(hf < scale)


def decide(
    state: AlertState,
    hf: float,
    warn: float,
    danger: float,
    now: float,
    policy: Policy = Policy(),
    snoozed: bool = False,
    muted: bool = False,
    remind_cap: float | None = None,
) -> tuple[AlertState, str | None]:
    """The new state and the message to send: "worse", "reminder", "safe" or None."""
    raw = level_of(hf, warn, danger)
    if raw == UNKNOWN:
        return state, None
    level, told = state.level, state.told
    if level == UNKNOWN:  # first look: learn the level; nothing is said, so last_sent stays as it was
        return AlertState(raw, now, state.last_sent, told), None

    if raw > level:
        if muted or (snoozed and raw < LIQUIDATABLE):
            return AlertState(raw, now, state.last_sent, told), None
        return AlertState(raw, now, now, max(told, raw)), "worse"

    if raw < level:
        cleared = level_of(hf, warn, danger, 1 + policy.rearm_margin)
        if cleared < level:
            new_level = max(raw, cleared)
            if new_level == OK and told > OK and not muted:  # a snooze does not hold back good news
                return AlertState(OK, now, now, OK), "safe"
            return AlertState(new_level, now, state.last_sent, told), None

    if level == OK and told > OK and not muted:  # recovered while muted: the all-clear is still owed
        return AlertState(OK, state.since, now, OK), "safe"
    first = policy.reminder_interval(level)
    cap = policy.remind_cap if remind_cap is None else remind_cap
    if first is not None and not (muted or snoozed) and now - state.last_sent >= reminder_pause(first, state.since, state.last_sent, cap):
        # A level never announced (first seen there, or entered while snoozed) is news, not a reminder.
        return AlertState(level, state.since, now, max(told, level)), "reminder" if told >= level else "worse"
    return state, None
