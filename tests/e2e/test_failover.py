"""Two real replicas over one PostgreSQL: the leader SIGKILLed mid-crash, and every warning still arrives."""

from __future__ import annotations

import pytest

from tests.e2e.replicas import failover_run
from tests.emulators.telegram import TelegramEmulator

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")]


async def test_killing_the_leader_mid_crash_loses_no_warning(tmp_path, postgres, price_apis):
    url = postgres.new_database()
    emu = TelegramEmulator()
    await emu.start()
    try:
        outcome = await failover_run(url, emu, price_apis.world, price_apis.env(), tmp_path, users=8, kills=3, cycles=2,
                                     hold=4.0, seed=7)
    finally:
        await emu.close()
    print(outcome.summary())
    assert outcome.kills >= 2, outcome.summary()  # a kill is skipped only when no replica led at that instant
    assert outcome.lost == [] and outcome.decided_twice == [], outcome.summary()
    assert outcome.rows > 0 and outcome.delivered >= outcome.rows
    # Each of the 8 users was warned of both crashes, whoever was leading at the time.
    assert outcome.crashes_seen == {f"telegram:{n}": 2 for n in range(1, 9)}, outcome.crashes_seen
