"""The price guard: which observed prices to trust, per asset, modelled on Liquity's PriceFeed.

A price is trusted only when it is finite and positive (checked at parse time), fresh (not
from the future, not hours old), not jumping more than 50 % from the last good price unless a
second source (or three checks in a row) confirms it, and, where several sources answer, the
agreeing majority is within 5 % of its median. Otherwise the asset is degraded: the last good
price is kept with its age and the reason, and after four hours without one it is frozen.
"""

from __future__ import annotations

import enum
import statistics
from dataclasses import dataclass, replace

from core.market.prices.base import SOURCE_NAMES


@dataclass(frozen=True)
class Observation:
    """One source's price for one asset in one tick."""

    source: str
    price: float
    as_of: float | None  # when the source says the price is from; None if it does not say


class Trust(str, enum.Enum):
    """How far a price can be relied on."""

    TRUSTED = "trusted"  # this check passed every guard
    DEGRADED = "degraded"  # this check failed; the last good price is kept
    FROZEN = "frozen"  # no good price for FROZEN_AFTER seconds
    UNKNOWN = "unknown"  # never had a good price


@dataclass(frozen=True)
class AssetState:
    """What is known about one asset's price."""

    asset: str
    trust: Trust = Trust.UNKNOWN
    price: float | None = None  # the last good price
    at: float | None = None  # when that price is from
    checked_at: float | None = None  # when the guard last looked
    reason: str = ""  # why it is not trusted now
    sources: tuple[str, ...] = ()  # the sources behind the last good price
    degraded_since: float | None = None
    pending: tuple[float, int] | None = None  # an unconfirmed jump: (price, checks in a row)

    def trust_at(self, now: float, frozen_after: float) -> Trust:
        """The trust level as of `now` (a kept price ages into FROZEN)."""
        if self.price is None:
            return Trust.UNKNOWN
        if self.at is not None and now - self.at > frozen_after:
            return Trust.FROZEN
        return self.trust


def _name(source: str) -> str:
    return SOURCE_NAMES.get(source, source)


def _money(price: float) -> str:
    return f"${price:,.2f}" if price >= 1 else f"${price:,.6g}"


class PriceGuard:
    """Per-asset trust state machine; feed it each tick's observations."""

    def __init__(
        self,
        max_jump: float = 0.5,
        max_spread: float = 0.05,
        stale_after: float = 1800.0,
        future_tolerance: float = 120.0,
        frozen_after: float = 4 * 3600.0,
        confirm_checks: int = 3,
    ):
        self.max_jump = max_jump
        self.max_spread = max_spread
        self.stale_after = stale_after
        self.future_tolerance = future_tolerance
        self.frozen_after = frozen_after
        self.confirm_checks = confirm_checks
        self.states: dict[str, AssetState] = {}

    def state(self, asset: str) -> AssetState:
        """The current state of an asset (UNKNOWN if never seen)."""
        return self.states.get(asset) or AssetState(asset)

    def degraded(self, now: float) -> dict[str, str]:
        """Every asset not trusted right now, with the reason."""
        out = {}
        for asset, state in self.states.items():
            trust = state.trust_at(now, self.frozen_after)
            if trust is not Trust.TRUSTED:
                out[asset] = state.reason or f"no trusted price ({trust.value})"
        return out

    def update(self, now: float, asset: str, observations: list[Observation], failures: dict[str, str]) -> AssetState:
        """Judge this tick's observations for one asset; returns (and keeps) its new state."""
        state = replace(self.state(asset), checked_at=now)
        fresh, problems = [], []
        for o in observations:
            if o.as_of is not None and o.as_of > now + self.future_tolerance:
                problems.append(f"{_name(o.source)} dated {o.as_of - now:,.0f} s in the future")
            elif o.as_of is not None and now - o.as_of > self.stale_after:
                problems.append(f"{_name(o.source)} price is {(now - o.as_of) / 3600:,.1f} h old")
            else:
                fresh.append(o)
        if not fresh:
            problems += failures.values()  # each already names its source: 'CoinGecko could not be reached'
            return self._keep(state, now, "; ".join(problems or ["no source answered"]))

        middle = statistics.median(o.price for o in fresh)
        agreeing = [o for o in fresh if abs(o.price / middle - 1) <= self.max_spread]
        if len(fresh) >= 2:
            # The agreeing group must be a majority and itself within the band (two answers 10 %
            # apart are each under 5 % from their midpoint, yet they disagree).
            tight = agreeing and max(o.price for o in agreeing) / min(o.price for o in agreeing) - 1 <= self.max_spread
            if len(agreeing) * 2 <= len(fresh) or not tight:
                spread = max(o.price for o in fresh) / min(o.price for o in fresh) - 1
                quotes = ", ".join(f"{_name(o.source)} {_money(o.price)}" for o in fresh)
                return self._keep(state, now, f"sources disagree by {spread:.1%} ({quotes})")
        candidate = statistics.median(o.price for o in agreeing)
        sources = tuple(o.source for o in agreeing)

        if state.price is not None and abs(candidate / state.price - 1) > self.max_jump and len(agreeing) < 2:
            count = 1
            if state.pending and abs(candidate / state.pending[0] - 1) <= self.max_spread:
                count = state.pending[1] + 1
            if count < self.confirm_checks:
                move = candidate / state.price - 1
                reason = (
                    f"{_name(sources[0])} jumped {move:+.1%} to {_money(candidate)} from the last good "
                    f"{_money(state.price)}; waiting for a second source to confirm"
                )
                return self._keep(state, now, reason, pending=(candidate, count))
        as_of = max((o.as_of if o.as_of is not None else now) for o in agreeing)
        new = replace(state, trust=Trust.TRUSTED, price=candidate, at=min(as_of, now), reason="", sources=sources,
                      degraded_since=None, pending=None)
        self.states[asset] = new
        return new

    def _keep(self, state: AssetState, now: float, reason: str, pending: tuple[float, int] | None = None) -> AssetState:
        """Not trusted this time: keep the last good price, say why."""
        trust = Trust.DEGRADED if state.price is not None else Trust.UNKNOWN
        new = replace(state, trust=trust, reason=reason, degraded_since=state.degraded_since or now, pending=pending)
        self.states[state.asset] = new
        return new
