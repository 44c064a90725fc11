"""Every monitored position as numpy arrays: health factors per tick, and which positions need a decision.

Only positions whose alert state could change this tick reach the per-position rules of
core.watch.alerts: those holding an asset whose price moved, those in danger (reminders), new ones,
and those just unfrozen. A tick in which one asset moved costs in proportion to its legs.
"""

from __future__ import annotations

import math
from collections.abc import Set
from dataclasses import dataclass

import numpy as np

from core.lending.risk import AT_ONE, settle
from core.watch.alerts import DANGER, UNKNOWN, AlertState, Policy, decide

PAR = "$PAR"  # debt a lender counts at exactly $1 (DAI in a Maker vault, USD at Ledn)
BELOW_ONE = 1.0 - AT_ONE  # a health factor under this is below 1 for the lenders too
FULL_EVERY = 256  # incremental ticks between full recomputations (float drift)


@dataclass(frozen=True)
class Decision:
    """What the rules decided for one position this tick."""

    row_id: int
    state: AlertState
    message: str | None  # "worse", "reminder", "safe" or None (a quiet state change)
    hf: float


class _Legs:
    """One side (collateral or debt) of every position: owner index, asset index, weight."""

    def __init__(self, capacity: int = 1024):
        self.pos = np.zeros(capacity, np.int32)
        self.asset = np.zeros(capacity, np.int32)
        self.w = np.zeros(capacity, np.float64)  # amount * LT for collateral, amount for debt
        self.m = 0
        self._order: np.ndarray | None = None  # leg indices sorted by asset
        self._offsets: np.ndarray | None = None
        self._extra: dict[int, list[int]] = {}  # legs appended since the sort

    def append(self, pos: int, asset: int, w: float) -> None:
        if self.m == len(self.w):
            for name in ("pos", "asset", "w"):
                old = getattr(self, name)
                grown = np.zeros(len(old) * 2, old.dtype)
                grown[: self.m] = old[: self.m]
                setattr(self, name, grown)
        self.pos[self.m], self.asset[self.m], self.w[self.m] = pos, asset, w
        if self._order is not None:
            self._extra.setdefault(asset, []).append(self.m)
        self.m += 1

    def of_asset(self, asset: int, n_assets: int) -> np.ndarray:
        """Indices of the legs in this asset (including zeroed ones of changed positions)."""
        order, offsets = self._order, self._offsets
        if order is None or offsets is None or sum(map(len, self._extra.values())) > self.m // 8 + 64:
            order = self._order = np.argsort(self.asset[: self.m], kind="stable")
            offsets = self._offsets = np.searchsorted(self.asset[: self.m][order], np.arange(n_assets + 1))
            self._extra = {}
        start, end = (offsets[asset], offsets[asset + 1]) if asset + 1 < len(offsets) else (0, 0)  # a new asset: none yet
        base = order[start:end]
        extra = self._extra.get(asset)
        return np.concatenate([base, np.asarray(extra, np.int64)]) if extra else base

    def of_position(self, pos: int) -> np.ndarray:
        return np.nonzero(self.pos[: self.m] == pos)[0]

    def totals(self, price: np.ndarray, n: int) -> np.ndarray:
        """sum(weight * price) per position."""
        m = self.m
        return np.bincount(self.pos[:m], weights=self.w[:m] * price[self.asset[:m]], minlength=n)


class Evaluator:
    """The arrays, and the tick that turns prices into decisions."""

    # one slot per position, grown by _alloc (set there with setattr, so named here for readers and the type checker)
    row_id: np.ndarray
    alive: np.ndarray
    warn: np.ndarray
    danger: np.ndarray
    num: np.ndarray
    den: np.ndarray
    level: np.ndarray
    since: np.ndarray
    last_sent: np.ndarray
    told: np.ndarray
    snoozed_until: np.ndarray
    muted: np.ndarray
    remind_cap: np.ndarray

    def __init__(self, policy: Policy = Policy(), capacity: int = 1024):
        self.policy = policy
        self.assets: dict[str, int] = {PAR: 0}
        self.price = np.array([1.0])
        self.known = np.array([True])
        self.n = 0
        self.index: dict[int, int] = {}  # position row id -> array index
        self._alloc(capacity)
        self.coll, self.debt = _Legs(), _Legs()
        self.hot: set[int] = set()  # indices at danger or worse: they may owe a reminder
        self.fresh: set[int] = set()  # added or changed since the last tick
        self.frozen = np.zeros(capacity, bool)
        self._frozen_assets: frozenset[int] | None = None
        self._ticks_since_full = FULL_EVERY

    def _alloc(self, capacity: int) -> None:
        specs = {"row_id": (np.int64, 0), "alive": (bool, False), "warn": (np.float64, 1.5), "danger": (np.float64, 1.2),
                 "num": (np.float64, 0.0), "den": (np.float64, 0.0), "level": (np.int8, UNKNOWN),
                 "since": (np.float64, 0.0), "last_sent": (np.float64, 0.0), "told": (np.int8, 0),
                 "snoozed_until": (np.float64, 0.0), "muted": (bool, False),
                 "remind_cap": (np.float64, self.policy.remind_cap)}
        for name, (dtype, fill) in specs.items():
            grown = np.full(capacity, fill, dtype)
            if hasattr(self, name):
                grown[: self.n] = getattr(self, name)[: self.n]
            setattr(self, name, grown)
        if hasattr(self, "frozen"):
            grown = np.zeros(capacity, bool)
            grown[: self.n] = self.frozen[: self.n]
            self.frozen = grown

    def asset_index(self, symbol: str) -> int:
        """The column of an asset, added on first sight."""
        if symbol not in self.assets:
            self.assets[symbol] = len(self.assets)
            self.price = np.append(self.price, 0.0)
            self.known = np.append(self.known, False)
        return self.assets[symbol]

    # ---------------------------------------------------------------- positions

    def put(self, row_id: int, collateral: list[tuple[str, float]], debt: list[tuple[str, float]], warn: float, danger: float,
            state: AlertState = AlertState(), snoozed_until: float = 0.0, muted: bool = False,
            remind_cap: float | None = None) -> None:
        """Add a position, or replace its legs and options (weights: amount * LT; debt amounts)."""
        i = self.index.get(row_id)
        if i is None:
            if self.n == len(self.row_id):
                self._alloc(len(self.row_id) * 2)
            i, self.n = self.n, self.n + 1
            self.index[row_id] = i
            self.row_id[i] = row_id
            self.level[i], self.since[i], self.last_sent[i], self.told[i] = state.level, state.since, state.last_sent, state.told
        else:
            self._drop_legs(i)
        self.alive[i] = True
        self.warn[i], self.danger[i], self.snoozed_until[i], self.muted[i] = warn, danger, snoozed_until, muted
        self.remind_cap[i] = self.policy.remind_cap if remind_cap is None else remind_cap
        for legs, items in ((self.coll, collateral), (self.debt, debt)):
            for symbol, w in items:
                a = self.asset_index(symbol)
                legs.append(i, a, w)
        self.num[i] = sum(w * self.price[self.assets[s]] for s, w in collateral)
        self.den[i] = sum(w * self.price[self.assets[s]] for s, w in debt)
        if self.level[i] >= DANGER:
            self.hot.add(i)
        self.fresh.add(i)
        self._frozen_assets = None  # its assets may be frozen ones

    def remove(self, row_id: int) -> None:
        """Stop watching a position."""
        i = self.index.pop(row_id, None)
        if i is not None:
            self._drop_legs(i)
            self.alive[i] = False
            self.hot.discard(i)
            self.fresh.discard(i)

    def _drop_legs(self, i: int) -> None:
        for legs in (self.coll, self.debt):
            legs.w[legs.of_position(i)] = 0.0
        self.num[i] = self.den[i] = 0.0

    def state_of(self, row_id: int) -> AlertState | None:
        """The alert state held for a position."""
        i = self.index.get(row_id)
        if i is None:
            return None
        return AlertState(int(self.level[i]), float(self.since[i]), float(self.last_sent[i]), int(self.told[i]))

    def health(self, row_id: int) -> float:
        """The health factor at the last evaluated prices."""
        i = self.index[row_id]
        return self._hf(np.array([i]))[0]

    # ---------------------------------------------------------------- the tick

    def _hf(self, idx: np.ndarray) -> np.ndarray:
        num, den = self.num[idx], self.den[idx]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.inf)

    def reprice(self, prices: dict[str, float], untrusted: Set[str]) -> np.ndarray | None:
        """Take new prices; returns the indices that may need a decision (None: all of them)."""
        price = self.price.copy()
        known = self.known.copy()
        for symbol, a in self.assets.items():
            if symbol == PAR:
                continue
            p = prices.get(symbol)
            ok = p is not None and math.isfinite(p) and p > 0
            price[a], known[a] = (p, True) if ok else (0.0, False)
        moved = np.nonzero((price != self.price) | (known != self.known))[0]
        n = self.n
        touched: list[np.ndarray] | None = None
        if self._ticks_since_full >= FULL_EVERY or len(moved) * 4 > len(self.assets):
            self.num[:n] = self.coll.totals(price, n)
            self.den[:n] = self.debt.totals(price, n)
            self._ticks_since_full = 0
        else:
            parts = []
            for m in moved:
                delta = price[m] - self.price[m]
                for legs, total in ((self.coll, self.num), (self.debt, self.den)):
                    idx = legs.of_asset(int(m), len(self.assets))
                    np.add.at(total, legs.pos[idx], legs.w[idx] * delta)
                    parts.append(legs.pos[idx])
            self._ticks_since_full += 1
            touched = parts
        self.price, self.known = price, known
        frozen_assets = frozenset(self.assets[s] for s in untrusted if s in self.assets) | frozenset(
            int(a) for a in np.nonzero(~known)[0])
        if frozen_assets != self._frozen_assets:
            # A position holding any asset without a trusted price is frozen: no decisions for it.
            was = self.frozen[:n].copy()
            self.frozen[:n] = False
            for a in frozen_assets:
                for legs in (self.coll, self.debt):
                    idx = legs.of_asset(a, len(self.assets))
                    self.frozen[legs.pos[idx[legs.w[idx] != 0]]] = True
            self._frozen_assets = frozen_assets
            if touched is not None:
                touched.append(np.nonzero(was & ~self.frozen[:n])[0])  # thawed: look again
        if touched is None:
            return None
        # Only the holders of what moved, plus those owed a reminder or not looked at yet.
        touched += [np.fromiter(self.hot, np.int64, len(self.hot)), np.fromiter(self.fresh, np.int64, len(self.fresh))]
        if sum(map(len, touched)) * 8 > n:  # many: a mask over everyone is cheaper than sorting them
            mask = np.zeros(n, bool)
            for part in touched:
                mask[part] = True
            return np.nonzero(mask)[0]
        return np.unique(np.concatenate(touched).astype(np.int64))

    def evaluate(self, now: float, prices: dict[str, float], untrusted: Set[str] = frozenset()) -> list[Decision]:
        """One tick: reprice, pre-filter in bulk, run the rules where something can change."""
        n = self.n
        candidates = self.reprice(prices, untrusted)
        if candidates is None:  # everything moved: work on whole slices, no index copies
            sel = slice(0, n)
            where = np.arange(n)
            pick = self.alive[:n] & ~self.frozen[:n]
        else:  # a few: touch only them
            where = candidates[self.alive[candidates] & ~self.frozen[candidates]]
            sel = where
            pick = None
        if not len(where):
            self.fresh.clear()
            return []
        p = self.policy
        num, den = self.num[sel], self.den[sel]
        with np.errstate(divide="ignore", invalid="ignore"):
            hf = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.inf)
        warn, danger, level = self.warn[sel], self.danger[sel], self.level[sel]
        # below the line means below 1 by more than a float's error (risk.settle): exactly 1 is not liquidatable,
        # compared against a shifted constant so the hot path allocates nothing more
        raw = (hf < warn).view(np.int8) + (hf < danger).view(np.int8) + (hf < BELOW_ONE).view(np.int8)
        need = raw > level
        margin = 1 + p.rearm_margin
        better = raw < level
        if better.any():
            cleared = (hf < warn * margin).view(np.int8) + (hf < danger * margin).view(np.int8) + (hf < margin).view(np.int8)
            need |= better & (cleared < level)
        muted = self.muted[sel]
        need |= (level == 0) & (self.told[sel] > 0) & ~muted  # an all-clear held back while muted
        high = level >= DANGER
        if high.any():
            quiet = muted | (self.snoozed_until[sel] > now)  # reminders wait out a snooze
            first = np.where(level == 2, p.remind_danger, p.remind_liquidatable)
            last_sent = self.last_sent[sel]
            # alerts.reminder_pause over arrays: each pause twice the last, up to the position's cap
            told_for = last_sent - self.since[sel]
            pause = np.where(told_for < first, first, np.minimum(self.remind_cap[sel], told_for + first))
            need |= high & ~quiet & (now - last_sent >= pause)
        if pick is not None:
            need &= pick
        decisions = []
        js = np.nonzero(need)[0]
        if len(js):
            rows = where[js]  # pull the few rows needed out of the arrays once, as Python values
            columns = zip(js.tolist(), self.row_id[rows].tolist(), level[js].tolist(), self.since[rows].tolist(),
                          self.last_sent[rows].tolist(), self.told[rows].tolist(), hf[js].tolist(), warn[js].tolist(),
                          danger[js].tolist(), (self.snoozed_until[rows] > now).tolist(), self.muted[rows].tolist(),
                          self.remind_cap[rows].tolist(), strict=False)
            for _, row_id, lvl, since, last_sent, told, h, w, d, snoozed, muted, cap in columns:
                state = AlertState(lvl, since, last_sent, told)
                h = settle(h)  # the rules compare the settled value, as the scalar risk math does
                new, message = decide(state, h, w, d, now, p, snoozed, muted, cap)
                if new != state or message:
                    decisions.append(Decision(row_id, new, message, h))
        self.fresh.clear()
        return decisions

    def forget_tick(self) -> None:
        """The last tick's decisions were not stored: look at every position again next tick.

        evaluate() already took the tick's prices and cleared `fresh`, so the next tick could
        otherwise skip a position whose decision was lost; a full pass decides it again.
        """
        self._ticks_since_full = FULL_EVERY

    def apply(self, decisions: list[Decision]) -> None:
        """Adopt decided states (after they were stored)."""
        for d in decisions:
            i = self.index.get(d.row_id)
            if i is None:
                continue
            s = d.state
            self.level[i], self.since[i], self.last_sent[i], self.told[i] = s.level, s.since, s.last_sent, s.told
            if s.level >= DANGER:
                self.hot.add(i)
            else:
                self.hot.discard(i)
