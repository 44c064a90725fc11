"""The alert rules: a hypothesis state machine against a simple model, flapping, snooze and mute."""

from __future__ import annotations

import random

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from core.watch.alerts import DANGER, LIQUIDATABLE, OK, UNKNOWN, WARNING, AlertState, Policy, decide, level_of

WARN, CRIT = 1.5, 1.2
POLICY = Policy()


class Model:
    """The specification, written plainly: what a user should receive."""

    def __init__(self):
        self.level = None  # unknown until the first look
        self.told = 0
        self.last_sent = 0.0
        self.since = 0.0  # when the current level began

    def step(self, hf, now, snoozed, muted):
        level = 3 if hf < 1 else 2 if hf < CRIT else 1 if hf < WARN else 0
        if self.level is None:  # nothing is said, so nothing counts as sent
            self.level, self.since = level, now
            return None
        if level > self.level:
            self.level, self.since = level, now
            if muted or (snoozed and level != 3):
                return None
            self.told, self.last_sent = max(self.told, level), now
            return "worse"
        if level < self.level:
            m = 1 + POLICY.rearm_margin
            with_margin = 3 if hf < m else 2 if hf < CRIT * m else 1 if hf < WARN * m else 0
            if with_margin < self.level:
                self.level, self.since = max(level, with_margin), now
                if self.level == 0 and self.told > 0 and not muted:  # good news passes a snooze
                    self.told, self.last_sent = 0, now
                    return "safe"
                return None
        if self.level == 0 and self.told > 0 and not muted:  # owed since it recovered while muted
            self.told, self.last_sent = 0, now
            return "safe"
        first = {2: POLICY.remind_danger, 3: POLICY.remind_liquidatable}.get(self.level)
        # each pause is the time told so far at this level plus the first pause: 15, 30, 60 min ... up to the cap
        told_for = self.last_sent - self.since
        every = first and (first if told_for < first else min(POLICY.remind_cap, told_for + first))
        if every and not (muted or snoozed) and now - self.last_sent >= every:
            news = self.told < self.level  # never announced: first seen there, or entered while quiet
            self.told, self.last_sent = max(self.told, self.level), now
            return "worse" if news else "reminder"
        return None


class AlertMachine(RuleBasedStateMachine):
    """Random health factors, time steps, snoozes and mutes: engine and model must agree."""

    def __init__(self):
        super().__init__()
        self.state = AlertState()
        self.model = Model()
        self.now = 1_700_000_000.0
        self.snoozed = False
        self.muted = False
        self.sent: list[tuple[float, str, int]] = []

    def _look(self, hf):
        self.state, message = decide(self.state, hf, WARN, CRIT, self.now, POLICY, self.snoozed, self.muted)
        expected = self.model.step(hf, self.now, self.snoozed, self.muted)
        assert message == expected, (hf, self.state, message, expected)
        assert self.state.level == self.model.level
        if message:
            self.sent.append((self.now, message, self.state.level))

    @rule(hf=st.floats(min_value=0.5, max_value=2.5), minutes=st.integers(0, 90))
    def tick(self, hf, minutes):
        self.now += minutes * 60
        self._look(hf)

    @rule(hf=st.sampled_from([0.99, 1.0, 1.019, 1.021, 1.19, 1.2, 1.223, 1.225, 1.49, 1.5, 1.529, 1.531]))
    def tick_at_a_boundary(self, hf):
        self.now += 60
        self._look(hf)

    @rule()
    def toggle_snooze(self):
        self.snoozed = not self.snoozed

    @rule()
    def toggle_mute(self):
        self.muted = not self.muted

    @precondition(lambda self: self.sent)
    @invariant()
    def reminders_respect_their_interval(self):
        for at, message, level in self.sent:
            if message == "reminder":
                previous = max((t for t, _, _ in self.sent if t < at), default=None)
                assert previous is None or at - previous >= POLICY.reminder_interval(level) - 1e-6

    @invariant()
    def safe_only_closes_something_announced(self):
        told = False
        for _, message, _ in self.sent:
            if message == "safe":
                assert told
                told = False
            else:
                told = True


TestAlertMachine = AlertMachine.TestCase
TestAlertMachine.settings = settings(max_examples=150, stateful_step_count=60, deadline=None)


def run(hfs, start=1_700_000_000.0, step=60.0, **kw):
    state, sent, now = AlertState(), [], start
    for hf in hfs:
        state, message = decide(state, hf, WARN, CRIT, now, POLICY, **kw)
        if message:
            sent.append((now, message, state.level))
        now += step
    return state, sent


def test_levels():
    assert [level_of(h, WARN, CRIT) for h in (2.0, 1.5, 1.49, 1.2, 1.19, 1.0, 0.99)] == [OK, OK, WARNING, WARNING, DANGER, DANGER, LIQUIDATABLE]
    assert level_of(float("nan"), WARN, CRIT) == UNKNOWN


def test_a_new_position_is_learned_quietly():
    state, sent = run([1.1])
    assert state.level == DANGER and sent == []


def test_worse_then_safe():
    _, sent = run([1.7, 1.45, 1.15, 0.98, 1.3, 1.6])
    assert [m for _, m, _ in sent] == ["worse", "worse", "worse", "safe"]
    assert [lvl for _, m, lvl in sent if m == "worse"] == [WARNING, DANGER, LIQUIDATABLE]


def flapping(threshold, recovered, rng, blocks=20, per_block=500):
    """Blocks of ticks flapping +-0.5 % on a threshold, each ended by a real recovery."""
    hfs = [recovered]
    for _ in range(blocks):
        hfs += [threshold * (1 + rng.uniform(-0.005, 0.005)) for _ in range(per_block - 10)]
        hfs += [recovered] * 10
    return hfs


def test_flapping_ten_thousand_ticks_around_the_warning_threshold():
    """One warning per real crossing, and no repeat: warnings have no reminder."""
    hfs = flapping(WARN, 1.6, random.Random(1))
    assert len(hfs) == 10_001
    _, sent = run(hfs, step=1.0)
    assert [(m, lvl) for _, m, lvl in sent] == [("worse", WARNING), ("safe", OK)] * 20


def test_flapping_ten_thousand_ticks_around_the_danger_threshold():
    """From warning, +-0.5 % on the danger line: one danger warning per crossing, nothing before the reminder."""
    hfs = [1.4] + flapping(CRIT, 1.3, random.Random(2))
    _, sent = run(hfs, step=1.0)  # a tick a second: 490 s in each flapping block, under the hour
    assert [s for s in sent if s[1] != "worse"] == [] and len(sent) == 20
    assert all(lvl == DANGER for _, _, lvl in sent)
    _, sent = run([1.4] + [CRIT * (1 + 0.005 * (-1) ** i) for i in range(7200)], step=1.0)
    assert [m for _, m, _ in sent] == ["worse", "reminder"]  # two hours on the line: one reminder


def test_reminders_first_after_an_hour_in_danger_and_a_quarter_when_liquidatable_then_back_off():
    _, sent = run([1.7] + [1.1] * 421, step=60.0)  # seven hours in danger after the first minute
    reminders = [t for t, m, _ in sent if m == "reminder"]
    assert [round((b - a) / 60) for a, b in zip([sent[0][0]] + reminders, reminders, strict=False)] == [60, 120, 240]
    _, sent = run([1.7] + [0.9] * 106, step=60.0)  # 1 h 45 min liquidatable: at 15, 45 and 105 min
    assert len([m for _, m, _ in sent if m == "reminder"]) == 3


def test_snooze_silences_but_not_liquidation():
    _, sent = run([1.7, 1.4, 1.1, 1.1], snoozed=True)
    assert sent == []
    _, sent = run([1.7, 1.1, 0.95], snoozed=True)
    assert [(m, lvl) for _, m, lvl in sent] == [("worse", LIQUIDATABLE)]


def test_a_snooze_holds_back_reminders_even_when_liquidatable():
    """DESIGN: reminders repeat 'until it is resolved or snoozed'."""
    _, sent = run([1.7, 0.95] + [0.95] * 120, snoozed=True)  # two hours liquidatable under a snooze
    assert [(m, lvl) for _, m, lvl in sent] == [("worse", LIQUIDATABLE)]


def test_recovering_during_a_snooze_still_says_back_to_safe():
    """A warning that went out is closed by 'back to safe', snooze or not: it is good news."""
    _, sent = run([1.7, 0.95, 1.3, 1.6], snoozed=True)
    assert [(m, lvl) for _, m, lvl in sent] == [("worse", LIQUIDATABLE), ("safe", OK)]


def test_an_all_clear_held_back_by_a_mute_goes_out_when_warnings_are_back_on():
    state, sent, now = AlertState(), [], 1_700_000_000.0
    for hf, muted in ((1.7, False), (1.1, False), (1.6, True), (1.6, True), (1.6, False), (1.6, False)):
        state, message = decide(state, hf, WARN, CRIT, now, POLICY, muted=muted)
        sent.append(message)
        now += 60
    assert sent == [None, "worse", None, None, "safe", None]
    assert state.told == OK


def test_a_position_first_seen_in_danger_is_announced_at_the_next_look():
    """The first look says nothing, so it must not count as a message: the next look announces the level
    as news ("DANGER", not "STILL IN DANGER": nobody was told yet), then reminders follow."""
    state, message = decide(AlertState(), 1.1, WARN, CRIT, 1_700_000_000.0, POLICY)
    assert message is None and state.level == DANGER and state.last_sent == 0.0
    state, message = decide(state, 1.1, WARN, CRIT, 1_700_000_060.0, POLICY)
    assert message == "worse" and state.last_sent == 1_700_000_060.0 and state.told == DANGER
    state, message = decide(state, 1.1, WARN, CRIT, 1_700_000_060.0 + POLICY.remind_danger, POLICY)
    assert message == "reminder"


def test_danger_entered_during_a_snooze_is_news_when_the_snooze_ends():
    state, _ = decide(AlertState(), 1.7, WARN, CRIT, 1_700_000_000.0, POLICY)
    state, message = decide(state, 1.1, WARN, CRIT, 1_700_000_060.0, POLICY, snoozed=True)
    assert message is None and state.level == DANGER
    state, message = decide(state, 1.1, WARN, CRIT, 1_700_007_200.0, POLICY)
    assert message == "worse" and state.told == DANGER


def test_mute_silences_everything():
    _, sent = run([1.7, 1.1, 0.9, 0.9, 1.8], muted=True)
    assert sent == []


def test_reminders_back_off_to_the_cap_and_a_worse_level_resets_the_pace():
    """Liquidatable for two days, looked at every minute: 15, 30, 60 min, 2, 4, 8 h, then every 12 h."""
    now = 1_700_000_000.0
    state, _ = decide(AlertState(), 1.3, WARN, CRIT, now, POLICY)
    state, message = decide(state, 1.1, WARN, CRIT, now, POLICY)
    assert message == "worse"
    state, message = decide(state, 0.9, WARN, CRIT, now + 60, POLICY)
    assert message == "worse" and state.level == LIQUIDATABLE
    entered, sent = now + 60, [now + 60]
    for minute in range(2, 2 * 24 * 60):
        state, message = decide(state, 0.9, WARN, CRIT, now + minute * 60, POLICY)
        if message:
            assert message == "reminder"
            sent.append(now + minute * 60)
    gaps = [round((b - a) / 60) for a, b in zip(sent, sent[1:], strict=False)]
    assert gaps[:6] == [15, 30, 60, 120, 240, 480] and set(gaps[6:]) == {720}
    assert sent[-1] - entered < 2 * 86400 and len(sent) == 9  # not 193 at a steady 15 min
    # a custom cap of 1 h: 15, 30, 60, 60 ...
    state, _ = decide(AlertState(), 0.9, WARN, CRIT, now, POLICY)
    state = AlertState(state.level, now, now, LIQUIDATABLE)
    times = []
    for minute in range(1, 6 * 60):
        state, message = decide(state, 0.9, WARN, CRIT, now + minute * 60, POLICY, remind_cap=3600)
        if message:
            times.append(minute)
    assert times[:5] == [15, 45, 105, 165, 225]


def test_a_worse_level_starts_the_reminder_pace_again():
    now = 1_700_000_000.0
    state = AlertState(DANGER, now - 10 * 3600, now - 3 * 3600, DANGER)  # in danger for 10 h, told 3 h ago
    state, message = decide(state, 1.1, WARN, CRIT, now, POLICY)
    assert message is None  # the pause has grown past 3 h
    state, message = decide(state, 0.9, WARN, CRIT, now + 60, POLICY)
    assert message == "worse"
    state, message = decide(state, 0.9, WARN, CRIT, now + 60 + 15 * 60, POLICY)
    assert message == "reminder"  # liquidatable: back to 15 min
