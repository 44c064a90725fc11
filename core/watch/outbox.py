"""The outbox: pushed messages stored with the state change that caused them, sent, retried or dead-lettered."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, replace

from core.lending.models import ChatRef, Owner
from core.ports import Database
from core.redact import scrub
from core.storage.store import Store
from core.text import clean_name
from core.watch.notices import AlertItem, Notice, alert_id

EXPIRE_AFTER = 12 * 3600  # a warning half a day late is noise: dead-letter it instead
MAX_ATTEMPTS = 8  # failed sends of one row before it is dead-lettered
KEEP_SENT = 7 * 86400  # sent rows are kept a week (for /status and an admin's look), then deleted
KEEP_DEAD = 30 * 86400  # dead letters a month: /status shows them and an admin may want to look
PRUNE_EVERY = 3600  # the delete scans every finished row, so at most hourly
_REF = re.compile(r"(#|W)(\d+)")  # how a message item names a position: "#3 (main)", "W2 (alice's #1)"


@dataclass(frozen=True)
class OutboxRow:
    """A message waiting for (or done with) delivery."""

    id: int
    notice: Notice
    created_at: float
    urgency: float
    critical: bool
    attempts: int


class Outbox:
    """Rows of the outbox and destinations tables; every write commits before it returns."""

    def __init__(self, store: Store, replica: str = "solo"):
        self.store = store
        self.db = store.db
        self.replica = replica  # who claims rows on PostgreSQL
        self._pruned_at: float | None = None

    # ---------------------------------------------------------------- writing (inside a caller's transaction)

    def enqueue(self, db: Database, notice: Notice, now: float | None = None) -> int:
        """Add a message (call inside the transaction that changed the alert state)."""
        self.enqueue_many(db, [notice], now)
        return db.execute("SELECT max(id) FROM outbox").fetchone()[0]

    def enqueue_many(self, db: Database, notices: list[Notice], now: float | None = None) -> None:
        """Add messages in bulk, in order (inside the caller's transaction)."""
        now = time.time() if now is None else now
        db.executemany(
            "INSERT INTO destinations (chat_key, platform, chat_id, is_group) VALUES (?, ?, ?, ?) ON CONFLICT(chat_key) DO NOTHING",
            [(n.chat.key, n.chat.platform, n.chat.chat_id, int(n.chat.is_group)) for n in notices],
        )
        db.executemany(
            "INSERT INTO outbox (chat_key, created_at, urgency, critical, payload, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?)",
            [(n.chat.key, now, n.urgency, int(n.critical), n.to_json(), now) for n in notices],
        )

    def ensure_destination(self, db: Database, chat: ChatRef, title: str | None = None) -> None:
        """Record a chat we send to (a no-op when known)."""
        db.execute(
            "INSERT INTO destinations (chat_key, platform, chat_id, is_group, title) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(chat_key) DO UPDATE SET title = coalesce(excluded.title, destinations.title)",
            [chat.key, chat.platform, chat.chat_id, int(chat.is_group), title],
        )

    # ---------------------------------------------------------------- reading

    def disabled(self) -> set[str]:
        """Chat keys that are no longer sent to."""
        return {r[0] for r in self.db.execute("SELECT chat_key FROM destinations WHERE disabled_reason IS NOT NULL")}

    def pending(self, now: float, platforms: set[str] | None = None, limit: int = 50_000) -> list[OutboxRow]:
        """Due pending rows of enabled destinations, oldest first (on PostgreSQL: claimed for this replica)."""
        if self.db.dialect == "postgresql":
            return self._claim(now, platforms, limit)
        rows = self.db.execute(
            "SELECT o.id, o.payload, o.created_at, o.urgency, o.critical, o.attempts, d.platform FROM outbox o "
            "JOIN destinations d ON d.chat_key = o.chat_key "
            "WHERE o.status = 'pending' AND o.next_attempt_at <= ? AND d.disabled_reason IS NULL ORDER BY o.id LIMIT ?",
            [now, limit],
        ).fetchall()
        return [
            OutboxRow(r[0], Notice.from_json(r[1], alert_id(r[0])), r[2], r[3], bool(r[4]), r[5])
            for r in rows
            if platforms is None or r[6] in platforms
        ]

    def _claim(self, now: float, platforms: set[str] | None, limit: int) -> list[OutboxRow]:
        """Take due rows nobody else's sender took, skipping rows another replica is claiming this instant.

        A claim is no promise of delivery: the row stays pending until the platform accepted it (mark_sent), so a
        sender that dies leaves it for the next leader, who takes over the claims (release_claims).
        """
        wanted = sorted(platforms) if platforms is not None else []
        if platforms is not None and not wanted:
            return []
        only = f"AND d.platform IN ({', '.join('?' * len(wanted))}) " if wanted else ""
        rows = self.db.execute(
            "WITH due AS (SELECT o.id FROM outbox o JOIN destinations d ON d.chat_key = o.chat_key "
            "WHERE o.status = 'pending' AND o.next_attempt_at <= ? AND d.disabled_reason IS NULL "
            f"{only}AND (o.claimed_by IS NULL OR o.claimed_by = ?) "
            "ORDER BY o.id LIMIT ? FOR UPDATE OF o SKIP LOCKED) "
            "UPDATE outbox SET claimed_by = ? FROM due WHERE outbox.id = due.id "
            "RETURNING outbox.id, outbox.payload, outbox.created_at, outbox.urgency, outbox.critical, outbox.attempts",
            [now, *wanted, self.replica, limit, self.replica]).fetchall()
        return sorted((OutboxRow(r[0], Notice.from_json(r[1], alert_id(r[0])), r[2], r[3], bool(r[4]), r[5]) for r in rows),
                      key=lambda row: row.id)

    def release_claims(self, platform: str) -> int:
        """This replica became the platform's sender: rows an earlier sender claimed and never settled are its now."""
        if self.db.dialect != "postgresql":
            return 0
        return self.db.execute(
            "UPDATE outbox SET claimed_by = NULL WHERE status = 'pending' AND claimed_by IS NOT NULL AND claimed_by <> ? "
            "AND chat_key IN (SELECT chat_key FROM destinations WHERE platform = ?)", [self.replica, platform]).rowcount

    def next_due(self) -> float | None:
        """When the earliest pending row becomes due."""
        return self.db.execute("SELECT min(next_attempt_at) FROM outbox WHERE status = 'pending'").fetchone()[0]

    def counts(self) -> dict[str, int]:
        """Rows per status."""
        out = {"pending": 0, "sent": 0, "dead": 0}
        out.update(dict(self.db.execute("SELECT status, count(*) FROM outbox GROUP BY status").fetchall()))
        return out

    def dead_letters(self, limit: int = 5) -> list[tuple[str, str, str]]:
        """The latest dead rows: (alert id, chat key, reason)."""
        rows = self.db.execute(
            "SELECT id, chat_key, last_error FROM outbox WHERE status = 'dead' ORDER BY id DESC LIMIT ?", [limit]
        ).fetchall()
        return [(alert_id(r[0]), r[1], r[2] or "") for r in rows]

    def disabled_destinations(self) -> list[tuple[str, str]]:
        """(chat key, reason) of every disabled destination."""
        return self.db.execute(
            "SELECT chat_key, disabled_reason FROM destinations WHERE disabled_reason IS NOT NULL ORDER BY disabled_at"
        ).fetchall()

    # ---------------------------------------------------------------- outcomes of a send

    def mark_sent(self, row_id: int, now: float, note: str | None = None) -> None:
        """The platform accepted it."""
        note = scrub(note)
        with self.store.transaction() as db:
            db.execute("UPDATE outbox SET status = 'sent', sent_at = ?, last_error = ? WHERE id = ?", [now, note, row_id])

    def retry(self, row_id: int, at: float, error: str, count_attempt: bool = True) -> bool:
        """Try again at `at`; after MAX_ATTEMPTS failed attempts it is dead-lettered. Returns whether it will be retried."""
        error = scrub(error)  # an exception's text may quote a URL that holds a key (ALERT_WEBHOOK_URL)
        with self.store.transaction() as db:
            attempts = db.execute("SELECT attempts FROM outbox WHERE id = ?", [row_id]).fetchone()[0] + int(count_attempt)
            if attempts >= MAX_ATTEMPTS:
                db.execute("UPDATE outbox SET status = 'dead', attempts = ?, last_error = ? WHERE id = ?",
                           [attempts, f"gave up after {attempts} attempts: {error}", row_id])
                return False
            db.execute("UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ?",
                       [attempts, at, error, row_id])
            return True

    def dead(self, row_id: int, reason: str) -> None:
        """Never deliverable: keep it with the reason, for /status."""
        reason = scrub(reason)
        with self.store.transaction() as db:
            db.execute("UPDATE outbox SET status = 'dead', last_error = ? WHERE id = ?", [reason, row_id])

    def expire(self, now: float) -> int:
        """Dead-letter pending rows older than EXPIRE_AFTER; returns how many."""
        with self.store.transaction() as db:
            cursor = db.execute(
                "UPDATE outbox SET status = 'dead', last_error = 'expired: not delivered within 12 h' "
                "WHERE status = 'pending' AND created_at < ?", [now - EXPIRE_AFTER])
            return cursor.rowcount

    def prune(self, now: float) -> int:
        """Delete sent rows older than KEEP_SENT and dead ones older than KEEP_DEAD (at most hourly); returns how many.

        The newest row always stays, so SQLite never hands out an id (and so an alert id) a second time.
        """
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
            return 0
        self._pruned_at = now
        with self.store.transaction() as db:
            cursor = db.execute(
                "DELETE FROM outbox WHERE id < (SELECT max(id) FROM outbox) AND ((status = 'sent' AND created_at < ?) "
                "OR (status = 'dead' AND created_at < ?))", [now - KEEP_SENT, now - KEEP_DEAD])
            return cursor.rowcount

    def disable_destination(self, chat: ChatRef, reason: str, now: float, title: str | None = None) -> int:
        """Stop sending to a chat (blocked, kicked, gone), dead-letter what waits for it and, for a group,
        tell each member who shared a position there; returns how many were told.

        One transaction: a crash cannot leave the chat disabled with its members never told. `title`
        is the chat's name as its members see it, when the platform still told us.
        """
        reason = scrub(reason)
        with self.store.transaction() as db:
            db.execute("UPDATE destinations SET disabled_reason = ?, disabled_at = ?, title = coalesce(?, title) WHERE chat_key = ?",
                       [reason, now, clean_name(title, 80) or None, chat.key])
            db.execute("UPDATE outbox SET status = 'dead', last_error = ? WHERE chat_key = ? AND status = 'pending'",
                       [f"destination disabled: {reason}", chat.key])
            notices = self._owner_notices(db, chat, reason, now) if chat.is_group else []
            self.enqueue_many(db, notices, now)
        return len(notices)

    def _owner_notices(self, db: Database, chat: ChatRef, reason: str | None, now: float) -> list[Notice]:
        """One message per member who shared a position into this chat: delivery stopped (with the reason), or restarted."""
        rows = db.execute(
            "SELECT w.number, p.number, o.platform, o.external_id, d.title FROM watches w "
            "JOIN positions p ON p.id = w.position_id JOIN owners o ON o.key = p.owner_key "
            "JOIN destinations d ON d.chat_key = w.chat_key WHERE w.chat_key = ? AND o.kind = 'user'", [chat.key]).fetchall()
        by_owner: dict[ChatRef, list[AlertItem]] = {}
        for watch, number, platform, user_id, title in rows:
            where = title or "a group you shared it into"  # its name as members see it, never our key
            if reason is not None:
                text = (f"I can no longer post in {where} ({reason}), so warnings for your #{number} (W{watch} there) stop "
                        f"going there. They restart by themselves once I may post there again, or when you send /watch "
                        f"{number} in it.")
                item = AlertItem("disabled", -1, f"#{number}", text)
            else:
                text = f"I may post in {where} again: warnings for your #{number} (W{watch} there) go there again."
                item = AlertItem("enabled", -1, f"#{number}", text)
            by_owner.setdefault(ChatRef(platform, user_id), []).append(item)
        return [Notice(c, tuple(items), now) for c, items in by_owner.items()]

    def known(self, chat: ChatRef) -> bool:
        """Whether the bot ever sent to (or was asked to send to) this chat."""
        return self.db.execute("SELECT 1 FROM destinations WHERE chat_key = ?", [chat.key]).fetchone() is not None

    def disabled_reason(self, chat: ChatRef) -> str | None:
        """Why sending to this chat stopped, or None when it is not stopped."""
        row = self.db.execute("SELECT disabled_reason FROM destinations WHERE chat_key = ?", [chat.key]).fetchone()
        return row[0] if row else None

    def enable_destination(self, chat: ChatRef, title: str | None = None, tell: bool = False) -> str | None:
        """Send to a chat again (the user talked to the bot again, or the platform says it may post); returns why it had
        stopped, None when it was not stopped. With `tell`, members who shared positions there hear it restarted."""
        reason = self.disabled_reason(chat)
        if reason is None:  # the usual case, asked on every interaction in a channel: one read, no write
            return None
        now = time.time()
        with self.store.transaction() as db:
            db.execute("UPDATE destinations SET disabled_reason = NULL, disabled_at = NULL, title = coalesce(?, title) "
                       "WHERE chat_key = ?", [clean_name(title, 80) or None, chat.key])
            if tell and chat.is_group:
                self.enqueue_many(db, self._owner_notices(db, chat, None, now), now)
        return reason

    def move_destination(self, chat: ChatRef, new_chat_id: str, now: float | None = None) -> ChatRef:
        """A group became a supergroup: follow it, in one transaction (destination, watches, outage, owner, queue).

        The bot may have been used in the supergroup before the old id bounced, so what the new id
        already has is kept and the old group's rows are merged in: its positions and shared
        positions get numbers after the supergroup's own (one shared in both stays shared once),
        queued messages are rewritten to the new numbers, and the group is told what changed.
        """
        now = time.time() if now is None else now
        new = ChatRef(chat.platform, new_chat_id, chat.is_group)
        with self.store.transaction() as db:
            title = db.execute("SELECT title FROM destinations WHERE chat_key = ?", [new.key]).fetchone()
            used = db.execute("SELECT coalesce(max(next_watch), 1) FROM destinations WHERE chat_key = ?", [new.key]).fetchone()[0]
            db.execute("DELETE FROM destinations WHERE chat_key = ?", [new.key])
            db.execute("UPDATE destinations SET chat_key = ?, chat_id = ?, title = coalesce(?, title) WHERE chat_key = ?",
                       [new.key, new_chat_id, title[0] if title else None, chat.key])
            outages = {k: (set(json.loads(a)), since) for k, a, since in db.execute(
                "SELECT chat_key, assets, since FROM chat_outages WHERE chat_key IN (?, ?)", [chat.key, new.key])}
            if chat.key in outages:
                assets, since = outages.pop(chat.key)
                there, then = outages.get(new.key, (set(), since))
                db.execute("DELETE FROM chat_outages WHERE chat_key IN (?, ?)", [chat.key, new.key])
                db.execute("INSERT INTO chat_outages (chat_key, assets, since) VALUES (?, ?, ?)",
                           [new.key, json.dumps(sorted(assets | there)), min(since, then)])
            watches = self._merge_watches(db, chat, new)
            db.execute(f"UPDATE destinations SET next_watch = {db.greatest('next_watch', '?')} WHERE chat_key = ?", [used, new.key])
            numbers = self._merge_owner(db, chat, new) if chat.is_group else {}
            for row_id, payload in db.execute("SELECT id, payload FROM outbox WHERE chat_key = ? AND status = 'pending'", [chat.key]).fetchall():
                notice = Notice.from_json(payload, "")
                moved = Notice(new, tuple(_renumbered(i, numbers, watches) for i in notice.items), notice.tick_at)
                db.execute("UPDATE outbox SET chat_key = ?, payload = ?, next_attempt_at = 0 WHERE id = ?", [new.key, moved.to_json(), row_id])
            if numbers or watches:
                changes = [f"#{a} is now #{b}" for a, b in sorted(numbers.items())] + [f"W{a} is now W{b}" for a, b in sorted(watches.items())]
                text = ("This group became a supergroup where I was already in use, so positions from before were renumbered: "
                        f"{', '.join(changes)}.")
                self.enqueue_many(db, [Notice(new, (AlertItem("renumbered", -1, "", text),), now)], now)
        return new

    @staticmethod
    def _merge_watches(db: Database, old: ChatRef, new: ChatRef) -> dict[int, int]:
        """Move the old chat's shared positions to the new one; returns the W-numbers that changed."""
        there = dict(db.execute("SELECT position_id, number FROM watches WHERE chat_key = ?", [new.key]).fetchall())
        moving = db.execute("SELECT number, position_id FROM watches WHERE chat_key = ? ORDER BY number", [old.key]).fetchall()
        taken = set(there.values())
        top = max(taken | {n for n, _ in moving}, default=0)
        changed = {}
        for number, pid in moving:
            if pid in there:  # shared in both: the supergroup's W-number names it; the old row goes below
                changed[number] = there[pid]
                continue
            if number in taken:
                top += 1
                changed[number] = top
            db.execute("UPDATE watches SET chat_key = ?, number = ? WHERE chat_key = ? AND position_id = ?",
                       [new.key, changed.get(number, number), old.key, pid])
        db.execute("DELETE FROM watches WHERE chat_key = ?", [old.key])
        # W-numbers are never handed out twice, in either chat's past
        newest = "coalesce((SELECT max(number) + 1 FROM watches WHERE chat_key = ?), 1)"
        db.execute(f"UPDATE destinations SET next_watch = {db.greatest('next_watch', '?', newest)} WHERE chat_key = ?",
                   [top + 1, new.key, new.key])
        return {a: b for a, b in changed.items() if a != b}

    @staticmethod
    def _merge_owner(db: Database, old: ChatRef, new: ChatRef) -> dict[int, int]:
        """Give the group's own positions to the supergroup; returns the position numbers that changed."""
        old_key, new_key = Owner(old.platform, "group", old.chat_id).key, Owner(new.platform, "group", new.chat_id).key
        if not db.execute("SELECT 1 FROM owners WHERE key = ?", [old_key]).fetchone():
            return {}
        if not db.execute("SELECT 1 FROM owners WHERE key = ?", [new_key]).fetchone():
            db.execute("INSERT INTO owners (key, platform, kind, external_id, next_number, created_at, alerts_enabled, display_name) "
                       "SELECT ?, platform, kind, ?, next_number, created_at, alerts_enabled, display_name FROM owners WHERE key = ?",
                       [new_key, new.chat_id, old_key])
            db.execute("UPDATE positions SET owner_key = ? WHERE owner_key = ?", [new_key, old_key])
            db.execute("DELETE FROM owners WHERE key = ?", [old_key])
            return {}
        newest = "coalesce((SELECT max(number) + 1 FROM positions WHERE owner_key = ?), 1)"
        number = db.execute(f"SELECT {db.greatest('next_number', newest)} FROM owners WHERE key = ?", [new_key, new_key]).fetchone()[0]
        changed = {}
        for pid, old_number in db.execute("SELECT id, number FROM positions WHERE owner_key = ? ORDER BY number", [old_key]).fetchall():
            db.execute("UPDATE positions SET owner_key = ?, number = ? WHERE id = ?", [new_key, number, pid])
            changed[old_number] = number
            number += 1
        db.execute("UPDATE owners SET next_number = ? WHERE key = ?", [number, new_key])
        db.execute("DELETE FROM owners WHERE key = ?", [old_key])
        return changed


def _renumbered(item: AlertItem, numbers: dict[int, int], watches: dict[int, int]) -> AlertItem:
    """The item under its position's new number (name, text and buttons), so a button acts on the right one."""
    m = _REF.match(item.ref)
    new = m and (numbers if m[1] == "#" else watches).get(int(m[2]))
    if not new or m is None:
        return item
    arg = "W" if m[1] == "W" else ""  # commands take "3" for an own position, "W3" for a shared one
    old_arg, new_arg = f"{arg}{m[2]}", f"{arg}{new}"
    ref = f"{m[1]}{new}{item.ref[m.end():]}"
    text = ref + item.text[len(item.ref):] if item.text.startswith(item.ref) else item.text
    if m[1] == "#":
        text = text.replace(f"/capacity {old_arg} ", f"/capacity {new_arg} ")
    buttons = tuple((label, re.sub(rf"^(/\w+) {old_arg}\b", rf"\g<1> {new_arg}", command)) for label, command in item.buttons)
    return replace(item, ref=ref, text=text, buttons=buttons)
