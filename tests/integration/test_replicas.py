"""Replicas on a real PostgreSQL: leaders by advisory lock, fencing, claimed outbox rows, LISTEN/NOTIFY."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from core.lending.models import ChatRef, Owner
from core.storage.replicas import EVENTS_CHANNEL, OUTBOX_CHANNEL, Bus, Leadership, LostRole
from core.storage.store import Store
from core.watch.notices import AlertItem, Notice
from core.watch.outbox import Outbox
from core.watch.shared_events import SharedEvents


class Switches:
    """A Leadership listener that records what was gained and lost."""

    def __init__(self):
        self.log: list[tuple[str, str]] = []

    async def __call__(self, gained, lost):
        self.log += [("gained", r) for r in sorted(gained)] + [("lost", r) for r in sorted(lost)]


async def until(predicate, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition never held"
        await asyncio.sleep(0.02)


@pytest.fixture
def url(postgres):
    url = postgres.new_database()
    yield url
    postgres.drop(url)


async def test_one_leader_per_role_and_the_standby_takes_over_when_its_connection_dies(url):
    a_log, b_log = Switches(), Switches()
    a = Leadership(url, ["ticks", "sender"], "a", a_log, interval=0.1)
    a.start()
    await until(lambda: a.held == {"ticks", "sender"})
    b = Leadership(url, ["ticks", "sender"], "b", b_log, interval=0.1)
    b.start()
    await asyncio.sleep(0.5)
    assert b.held == set() and b_log.log == []  # standing by
    with psycopg.connect(url, autocommit=True) as admin:  # a's connection dies, as when its host does
        admin.execute("SELECT pg_terminate_backend(%s)", [a.backend_pid])
    await until(lambda: b.held == {"ticks", "sender"})
    await until(lambda: ("lost", "ticks") in a_log.log)  # a noticed and gave up before anything else
    assert a_log.log[:2] == [("gained", "sender"), ("gained", "ticks")]
    await a.stop()
    await b.stop()
    assert b_log.log[-2:] == [("lost", "sender"), ("lost", "ticks")]


async def test_a_tick_of_a_replica_that_lost_the_role_is_rolled_back(url):
    store = Store(url)
    a = Leadership(url, ["ticks"], "a", interval=0.1)
    a.start()
    await until(lambda: a.holds("ticks"))
    with store.transaction() as db:
        a.fence(db, "ticks")  # still ours: nothing happens
        db.execute("INSERT INTO kv (key, value) VALUES ('seen', '1')")
    backend = a.backend_pid
    await a.stop()  # the lock goes with the connection
    a.backend_pid = backend  # as if this replica had not noticed yet
    with pytest.raises(LostRole), store.transaction() as db:
        db.execute("INSERT INTO kv (key, value) VALUES ('late', '1')")
        a.fence(db, "ticks")
    assert [r[0] for r in store.db.execute("SELECT key FROM kv ORDER BY key")] == ["seen"]
    store.close()


def queue(store: Store, outbox: Outbox, n: int) -> None:
    with store.transaction() as db:
        outbox.enqueue_many(db, [Notice(ChatRef("telegram", str(i)), (AlertItem("worse", 2, "#1", "x", 1.1),), 0.0)
                                 for i in range(n)], now=1.0)


async def test_outbox_rows_are_claimed_once_skipping_locked_ones_and_taken_over_by_the_next_sender(url):
    store = Store(url)
    first, second = Outbox(store, replica="a"), Outbox(Store(url), replica="b")
    queue(store, first, 3)
    with psycopg.connect(url) as other:  # another transaction holds row 1 (a sender claiming it this instant)
        other.execute("SELECT id FROM outbox WHERE id = 1 FOR UPDATE")
        assert [r.id for r in first.pending(2.0)] == [2, 3]  # skipped, not waited for
    assert [r.id for r in first.pending(2.0)] == [1, 2, 3]  # its own claims come back to it
    assert second.pending(2.0) == []  # a's, while a sends
    first.mark_sent(2, 3.0)
    assert second.release_claims("telegram") == 2  # b became the sender: a's unsettled rows are b's now
    assert [r.id for r in second.pending(4.0)] == [1, 3] and first.pending(4.0) == []
    second.store.close()
    store.close()


async def test_queued_warnings_and_position_changes_are_heard_by_the_other_replicas(url):
    heard: dict[str, list[str]] = {OUTBOX_CHANNEL: [], EVENTS_CHANNEL: []}

    class Local:
        def __init__(self):
            self.calls = []

        def position_changed(self, row_id):
            self.calls.append(("changed", row_id))

        def position_removed(self, row_id):
            self.calls.append(("removed", row_id))

        def owner_changed(self, owner):
            self.calls.append(("owner", owner.key))

    store = Store(url)
    here, there = Local(), Local()
    mine = SharedEvents(here, store.db, "a", EVENTS_CHANNEL, lambda: here.calls.append(("reload", 0)))
    theirs = SharedEvents(there, store.db, "b", EVENTS_CHANNEL, lambda: there.calls.append(("reload", 0)))
    bus = Bus(url, {OUTBOX_CHANNEL: heard[OUTBOX_CHANNEL].append,
                    EVENTS_CHANNEL: lambda p: (heard[EVENTS_CHANNEL].append(p), theirs.heard(p), mine.heard(p))})
    bus.start()
    await asyncio.sleep(0.5)  # listening
    queue(store, Outbox(store), 2)  # one statement, one notification, at commit
    mine.position_changed(7)
    mine.owner_changed(Owner("telegram", "user", "42"))
    await until(lambda: len(heard[EVENTS_CHANNEL]) == 2 and heard[OUTBOX_CHANNEL])
    assert heard[OUTBOX_CHANNEL] == [""]
    assert here.calls == [("changed", 7), ("owner", "telegram:user:42")]  # told directly, its own echo ignored
    assert there.calls == [("changed", 7), ("owner", "telegram:user:42")]  # told through PostgreSQL
    await bus.stop()
    store.close()


async def test_a_role_whose_start_fails_is_given_up_for_another_replica(url):
    from bot.replica import Replica

    started = []

    def actions(name: str, fails: bool):
        async def start():
            if fails:
                raise RuntimeError("setWebhook refused")
            started.append(name)

        async def stop():
            pass

        return start, stop

    broken, healthy = Replica("broken", url, interval=0.1), Replica("healthy", url, interval=0.1)
    broken.role("register", *actions("broken", True))
    healthy.role("register", *actions("healthy", False))
    await broken.start()
    await until(lambda: isinstance(broken.leadership, Leadership) and broken.leadership.backend_pid is not None)
    await asyncio.sleep(0.3)  # broken took it first, failed, gave it up, and tries again each round
    await healthy.start()
    await until(lambda: started == ["healthy"])
    assert healthy.holds("register") and not broken.holds("register")
    await broken.stop()
    await healthy.stop()
