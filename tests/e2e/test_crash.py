"""Crash safety: SIGKILL the real bot at random moments of a replayed crash; nothing is lost."""

from __future__ import annotations

from tests.e2e.crash import crash_run


async def test_ten_random_kills_lose_nothing(tmp_path):
    outcome = await crash_run(tmp_path, kills=10, seed=4)
    assert outcome.expected >= 10, "the replay produces warnings to lose"
    assert outcome.lost == [] and outcome.unexpected == [] and outcome.changed == []
    assert outcome.duplicates <= outcome.kills
