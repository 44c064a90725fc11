"""The dispatcher: delivers the outbox within each platform's limits, most urgent first, and maps failures.

Telegram allows about 30 messages a second overall, one a second per chat and 20 a minute per
group; Discord 50 requests a second and 5 messages per 5 seconds per channel. The dispatcher
keeps under them itself (sliding windows, slightly wider than the platform's so clocks that
disagree by a few milliseconds cannot provoke a 429), honours every retry_after, and sends one
message at a time per chat so a chat reads its messages in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from core.lending.models import ChatRef
from core.redact import scrub
from core.watch.notices import Notice
from core.watch.outbox import Outbox, OutboxRow

log = logging.getLogger(__name__)


class Notifier(Protocol):
    """Delivers pushed messages on one platform; raises the errors below when it cannot."""

    platform: str

    def accepts(self, chat: ChatRef) -> bool:
        """Whether this process can deliver to the chat (the console only to its own user)."""
        ...

    async def send(self, chat: ChatRef, notice: Notice) -> None:
        """Deliver; return only once the platform accepted it."""
        ...


class DeliveryError(Exception):
    """A send did not go through."""


class RetryLater(DeliveryError):
    """Flood control: wait `seconds`; scope "chat" pauses that chat, "global" the whole platform."""

    def __init__(self, seconds: float, scope: str = "chat"):
        super().__init__(f"retry after {seconds:g} s ({scope})")
        self.seconds, self.scope = seconds, scope


class Undeliverable(DeliveryError):
    """Permanent: the bot was blocked or removed, the chat is gone, a permission is missing.

    `title` is the chat's name as its members see it, when the platform still knows it.
    """

    def __init__(self, reason: str, title: str | None = None):
        super().__init__(reason)
        self.title = title


class Rejected(DeliveryError):
    """This one message can never be sent (the platform refused its content); the chat stays enabled."""


class ChatMoved(DeliveryError):
    """The group became a supergroup with a new id."""

    def __init__(self, new_chat_id: str):
        super().__init__(f"chat moved to {new_chat_id}")
        self.new_chat_id = new_chat_id


class MaybeDelivered(DeliveryError):
    """Timed out after sending: it may have arrived."""


@dataclass(frozen=True)
class Rule:
    """At most `limit` sends per `period` seconds, per scope: "all", "chat" or "group".

    A smooth rule puts sends on an even grid (period / limit apart) instead of allowing a burst:
    a burst of 30 leaves no room for network jitter at the platform's end of the window. A send
    that goes out a little late keeps the grid, so loop overhead does not cost throughput.
    """

    scope: str
    limit: int
    period: float
    smooth: bool = False


PLATFORM_LIMITS: dict[str, tuple[Rule, ...]] = {
    "telegram": (Rule("all", 30, 1.0, smooth=True), Rule("chat", 1, 1.0), Rule("group", 20, 60.0)),
    "discord": (Rule("all", 50, 1.0, smooth=True), Rule("chat", 5, 5.0)),
}
SAFETY = 1.05  # our windows are 5 % longer than the platform's: arrival jitter of up to 50 ms still fits


class Limiter:
    """Sliding-window send limits per platform, chat and group, plus pauses from retry_after."""

    def __init__(self, limits: dict[str, tuple[Rule, ...]] = PLATFORM_LIMITS, safety: float = SAFETY):
        self.limits = limits
        self.safety = safety
        self._sent: dict[tuple, deque] = defaultdict(deque)
        self._next_slot: dict[tuple, float] = {}  # smooth rules: when the next send may go
        self._paused: dict[tuple, float] = {}

    def _keys(self, chat: ChatRef) -> Iterable[tuple[tuple, Rule]]:
        for rule in self.limits.get(chat.platform, ()):
            if rule.scope == "all":
                yield (chat.platform, "all"), rule
            elif rule.scope == "chat":
                yield (chat.platform, "chat", chat.chat_id), rule
            elif rule.scope == "group" and chat.is_group:
                yield (chat.platform, "group", chat.chat_id), rule

    def wait(self, chat: ChatRef, now: float) -> float:
        """Seconds until a message to `chat` may go (0: now)."""
        return max(self.platform_wait(chat.platform, now), self.chat_wait(chat, now))

    def platform_wait(self, platform: str, now: float) -> float:
        """Seconds until the platform-wide rules let anything go (the same for every chat)."""
        wait = self._paused.get((platform, "all"), 0.0) - now
        for rule in self.limits.get(platform, ()):
            if rule.scope == "all":
                wait = max(wait, self._rule_wait((platform, "all"), rule, now))
        return max(0.0, wait)

    def chat_wait(self, chat: ChatRef, now: float) -> float:
        """Seconds until this chat's own rules (per chat, per group, its retry_after) let a message go."""
        wait = self._paused.get((chat.platform, "chat", chat.chat_id), 0.0) - now
        for key, rule in self._keys(chat):
            if rule.scope != "all":
                wait = max(wait, self._rule_wait(key, rule, now))
        return max(0.0, wait)

    def _rule_wait(self, key: tuple, rule: Rule, now: float) -> float:
        if rule.smooth:
            return self._next_slot.get(key, now) - now
        sent = self._sent[key]
        period = rule.period * self.safety
        while sent and now - sent[0] >= period:
            sent.popleft()
        return sent[0] + period - now if len(sent) >= rule.limit else 0.0

    def record(self, chat: ChatRef, now: float) -> None:
        """A message to `chat` is going out now."""
        for key, rule in self._keys(chat):
            if rule.smooth:
                spacing = rule.period * self.safety / rule.limit
                slot = self._next_slot.get(key, now)
                self._next_slot[key] = (slot if now - slot < spacing else now) + spacing  # late by less than a step: keep the grid
            else:
                self._sent[key].append(now)

    def pause(self, chat: ChatRef, seconds: float, scope: str, now: float) -> None:
        """Honour a retry_after for the chat or the whole platform."""
        key = (chat.platform, "all") if scope == "global" else (chat.platform, "chat", chat.chat_id)
        self._paused[key] = max(self._paused.get(key, 0.0), now + seconds)


class Dispatcher:
    """Sends pending outbox rows through the notifiers; runs beside the tick loop."""

    def __init__(self, outbox: Outbox, notifiers: Iterable[Notifier], limiter: Limiter | None = None, concurrency: int = 32):
        self.outbox = outbox
        self.notifiers = list(notifiers)
        self.limiter = limiter or Limiter()
        self.concurrency = concurrency
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.sent = self.failed = 0
        self.outcomes: Counter[tuple[str, str]] = Counter()  # (platform, outcome) -> count, for /metrics
        self._deadline: float | None = None  # while draining at shutdown: no new send starts after it
        # Which platforms this process sends for now: with replicas, only those whose sender role it holds.
        self.may_send: Callable[[str], bool] = lambda platform: True

    def notifier_for(self, chat: ChatRef) -> Notifier | None:
        """The notifier that delivers to this chat in this process, if any."""
        if not self.may_send(chat.platform):
            return None
        return next((n for n in self.notifiers if n.platform == chat.platform and n.accepts(chat)), None)

    def wake(self) -> None:
        """New rows were queued."""
        self._wake.set()

    def start(self) -> asyncio.Task:
        """Deliver in the background until stop()."""
        self._task = asyncio.get_running_loop().create_task(self.run(), name="dispatcher")
        return self._task

    async def stop(self, drain: float = 0.0) -> None:
        """Stop delivering: keep sending what is due for up to `drain` seconds, let in-flight sends finish, end.

        What is not sent by then stays in the outbox and goes after the next start.
        """
        self._deadline = time.monotonic() + drain
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, drain + 10)
            except TimeoutError:
                self._task.cancel()

    def _closing(self) -> bool:
        return self._deadline is not None and time.monotonic() >= self._deadline

    async def run(self) -> None:
        """The delivery loop, until stop()."""
        while not self._closing():
            self._wake.clear()
            rest = await self.deliver()
            if self._deadline is not None and rest is None:
                break  # stopping, and nothing more is due
            due = self.outbox.next_due()
            timeout = 30.0 if due is None else max(0.05, due - time.time())
            if rest is not None:
                timeout = min(timeout, rest)
            if self._deadline is not None:
                timeout = min(timeout, max(0.0, self._deadline - time.monotonic()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), min(30.0, timeout))

    def _load(self, queues: dict[str, deque[OutboxRow]], heads: dict[str, list], known: dict[int, str]) -> None:
        """Queue every due row not queued yet (oldest first within a chat; chats by urgency per platform)."""
        self.outbox.expire(time.time())
        self.outbox.prune(time.time())
        for row in self.outbox.pending(time.time(), {n.platform for n in self.notifiers if self.may_send(n.platform)}):
            if known.get(row.id) == row.notice.chat.key or not self.notifier_for(row.notice.chat):
                continue  # already queued (a row whose chat moved comes back under its new key)
            known[row.id] = row.notice.chat.key
            queue = queues[row.notice.chat.key]
            queue.append(row)
            if len(queue) == 1:
                heapq.heappush(heads[row.notice.chat.platform], (row.urgency, row.id, row.notice.chat.key))

    async def deliver(self, patience: float = 1.0) -> float | None:
        """Send due rows, most urgent chat first, until nothing is ready within `patience` seconds.

        Returns the seconds until the next row could go (None when nothing waits). Each platform has
        its own queue of chats by urgency; while its overall limit holds, none of them is even looked
        at, so a backlog of thousands costs a heap operation per message, not a scan.
        """
        queues: dict[str, deque[OutboxRow]] = defaultdict(deque)
        heads: dict[str, list[tuple[float, int, str]]] = defaultdict(list)  # per platform: (urgency, row id, chat key)
        waiting: list[tuple[float, float, int, str]] = []  # chats held by their own limits: (ready at, urgency, id, key)
        inflight: set[asyncio.Task] = set()
        known: dict[int, str] = {}
        self._load(queues, heads, known)
        while True:
            closing = self._closing()
            if closing and not inflight:
                return None
            if self._wake.is_set() and not closing:
                self._wake.clear()
                self._load(queues, heads, known)
            now = time.monotonic()
            while waiting and waiting[0][0] <= now:
                _, urgency, row_id, key = heapq.heappop(waiting)
                heapq.heappush(heads[queues[key][0].notice.chat.platform], (urgency, row_id, key))
            wake_at = [w[0] for w in waiting[:1]]
            for platform, heap in heads.items():
                while heap and len(inflight) < self.concurrency and not closing:
                    hold = self.limiter.platform_wait(platform, now)
                    if hold > 0:
                        wake_at.append(now + hold)
                        break
                    urgency, row_id, key = heapq.heappop(heap)
                    row = queues[key][0]
                    wait = self.limiter.chat_wait(row.notice.chat, now)
                    if wait > 0:
                        heapq.heappush(waiting, (now + wait, urgency, row_id, key))
                        wake_at.append(now + wait)
                        continue
                    self.limiter.record(row.notice.chat, now)
                    inflight.add(asyncio.create_task(self._send(row, key, queues, heads, waiting)))
            if not inflight:
                if not wake_at or closing:
                    return None
                rest = min(wake_at) - time.monotonic()
                if rest > patience:
                    return rest
                await asyncio.sleep(max(0.0, rest))
                continue
            timeout = max(0.0, min(wake_at) - now) if wake_at else None
            done, _ = await asyncio.wait(inflight, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            inflight -= done
            for task in done:  # a failure of the outbox itself (the database): its rows are due again next pass
                if not task.cancelled() and task.exception() is not None:
                    log.error("delivery failed outside the send", exc_info=task.exception())

    def _back_off(self, row: OutboxRow, key: str, queues, now: float, error: str) -> float | None:
        """A failed attempt: retry after a growing pause (returned), or None once the outbox dead-lettered it."""
        self.failed += 1
        attempt = row.attempts + 1
        pause = min(300.0, 2.0**attempt)
        if not self.outbox.retry(row.id, now + pause, error):
            log.warning("gave up on message %d to %s after %d attempts: %s", row.id, row.notice.chat.key, attempt, error)
            return None
        queues[key][0] = OutboxRow(row.id, row.notice, row.created_at, row.urgency, row.critical, attempt)
        return pause

    async def _send(self, row: OutboxRow, key: str, queues, heads, waiting) -> int:
        """One send and what its outcome means; queues the chat's next row when this one is settled."""
        chat = row.notice.chat
        notifier = self.notifier_for(chat)
        if notifier is None:  # this replica stopped being the platform's sender: the row stays pending for the next
            queues.pop(key, None)
            return 0
        now = time.time()
        next_ready: float | None = None  # seconds until this row goes again; None: settled (sent or dead)
        ok = 0
        outcome = "sent"
        try:
            await notifier.send(chat, row.notice)
        except RetryLater as err:
            outcome = "rate-limited"
            self.limiter.pause(chat, err.seconds, err.scope, time.monotonic())
            if self.outbox.retry(row.id, now + err.seconds, str(err), count_attempt=False):
                next_ready = err.seconds  # not settled: the same row goes again after the pause
        except ChatMoved as err:
            try:
                moved = self.outbox.move_destination(chat, err.new_chat_id, now)
            except Exception as move_err:  # noqa: BLE001 - never resend to the old id forever: back off, then dead-letter
                log.exception("could not follow chat %s to %s", chat.key, err.new_chat_id)
                outcome = "retried"
                next_ready = self._back_off(row, key, queues, now, f"could not follow the chat to {err.new_chat_id}: {move_err}")
            else:
                self.outcomes[(chat.platform, "moved")] += 1
                log.info("chat %s moved to %s; following it", chat.key, moved.key)
                queues.pop(key, None)
                self._wake.set()  # its rows are queued again under the new id
                return 0
        except Undeliverable as err:
            self.outcomes[(chat.platform, "disabled")] += 1
            log.warning("disabling %s: %s", chat.key, err)
            if self.outbox.disable_destination(chat, str(err), now, err.title):
                self._wake.set()  # the members who shared positions there were told
            queues.pop(key, None)
            return 0
        except Rejected as err:
            outcome = "dead-lettered"
            log.warning("message %d to %s rejected: %s", row.id, chat.key, err)
            self.outbox.dead(row.id, str(err))
        except MaybeDelivered as err:
            outcome = "timed-out"
            if row.critical:  # a duplicate warning is better than a lost one
                if self.outbox.retry(row.id, now + 5, f"timed out, retrying: {err}"):
                    next_ready = 5.0
            else:
                self.outbox.mark_sent(row.id, now, "timed out; may have been delivered")
                ok = 1
        except Exception as err:  # noqa: BLE001 - any other failure is retried with back-off
            outcome = "retried"
            log.warning("send to %s failed (attempt %d): %s", chat.key, row.attempts + 1, type(err).__name__)
            # masked before it is cut: a cut could leave part of a secret unrecognisable to the mask
            next_ready = self._back_off(row, key, queues, now, scrub(f"{type(err).__name__}: {err}")[:200])
        else:
            self.outbox.mark_sent(row.id, time.time())
            self.sent += 1
            ok = 1
        self.outcomes[(chat.platform, outcome)] += 1
        queue = queues.get(key)
        if queue is None:
            return ok
        if next_ready is None:  # settled: the chat's next row may go
            queue.popleft()
        if queue:
            head = queue[0]
            if next_ready is not None:
                heapq.heappush(waiting, (time.monotonic() + next_ready, head.urgency, head.id, key))
            else:
                heapq.heappush(heads[chat.platform], (head.urgency, head.id, key))
        return ok
