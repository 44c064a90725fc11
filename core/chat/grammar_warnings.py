"""The grammar of the warning commands: /alerts, /snooze, /watch, /unwatch, /watching (mixed into the Parser)."""

from __future__ import annotations

import re
from decimal import Decimal

from core.chat.commands import Command
from core.chat.grammar_words import Words
from core.errors import InvalidAmount, UsageError
from core.lending.numbers import parse_decimal, parse_percent

_DURATION = re.compile(r"([0-9]{1,6})(m|min|h|d)", re.IGNORECASE)  # 10080m is 7 days
MAX_SNOOZE = 7 * 86400
MIN_REMIND, MAX_REMIND = 15 * 60, 7 * 86400


def duration(text: str) -> int:
    """'30m', '2h', '1d' -> seconds; anything else is a usage error."""
    match = _DURATION.fullmatch(text)
    if not match:
        raise UsageError(f"{text[:16]!r} is not a duration; use minutes, hours or days like 30m, 2h, 1d.")
    return int(match.group(1)) * {"m": 60, "min": 60, "h": 3600, "d": 86400}[match.group(2).lower()]


class WarningGrammar(Words):
    """Needs from the Parser: _ref, _id, _done."""

    def _alerts(self, args: list[str]) -> Command:
        if not args:
            return Command("alerts")
        if args[0].lower() in ("on", "off"):
            self._done(args, 1)
            return Command("alerts", switch=args[0].lower() == "on")
        number, watch = self._ref(args[0])
        if len(args) == 1:
            return Command("alerts", number=number, watch=watch)
        if args[1].lower() in ("on", "off", "reset"):
            self._done(args, 2)
            word = args[1].lower()
            return Command("alerts", number=number, watch=watch, switch=None if word == "reset" else word == "on",
                           confirmed=word == "reset")
        values: dict[str, Decimal] = {}
        percent = None
        remind = redemption = None
        i = 1
        while i < len(args):
            word = args[i].lower()
            if (word not in ("warn", "critical", "remind", "redemption") or word in values
                    or (word == "remind" and remind is not None) or (word == "redemption" and redemption is not None)):
                raise UsageError(f"Expected 'warn', 'critical', 'remind' or 'redemption', got {args[i][:16]!r}.")
            if i + 1 >= len(args):
                example = {"remind": "remind 4h", "redemption": "redemption 10%"}.get(word, f"{word} 1.5' or '{word} 70%")
                raise UsageError(f"'{word}' needs a value, like '{example}'.")
            token = args[i + 1]
            if word == "redemption":
                if not token.endswith("%"):
                    raise UsageError("Give the redemption line as a share of the branch's debt, like 'redemption 10%'.")
                redemption = parse_percent(token)
                if not 0 < redemption < 1:
                    raise InvalidAmount(f"'redemption {token}' is out of range: a share between 0% and 100%.")
                i += 2
                continue
            if word == "remind":
                remind = duration(token)
                if not MIN_REMIND <= remind <= MAX_REMIND:
                    raise InvalidAmount("Reminders back off to at most a pause between 15 minutes and 7 days.")
                i += 2
                continue
            is_pct = token.endswith("%")
            if percent is not None and is_pct != percent:
                raise UsageError("Give both thresholds the same way: health factors (1.5) or percentages (70%).")
            percent = is_pct
            values[word] = parse_percent(token) if is_pct else parse_decimal(token)
            if values[word] <= 0 or values[word] > 100:
                raise InvalidAmount(f"'{word} {token}' is out of range.")
            i += 2
        return Command("alerts", number=number, watch=watch, warn=values.get("warn"), critical=values.get("critical"),
                       percent=bool(percent), remind=remind, redemption=redemption)

    def _snooze(self, args: list[str]) -> Command:
        if len(args) != 2:
            raise UsageError("Which position, and for how long? Like '/snooze 1 2h'.")
        everything = args[0].lower() == "all"
        number, watch = (None, None) if everything else self._ref(args[0])
        if args[1].lower() == "off":
            return Command("snooze", number=number, watch=watch, everything=everything, seconds=0)
        seconds = duration(args[1])
        if not 60 <= seconds <= MAX_SNOOZE:
            raise InvalidAmount("Snooze for at least a minute and at most 7 days.")
        return Command("snooze", number=number, watch=watch, everything=everything, seconds=seconds)

    def _watch(self, args: list[str]) -> Command:
        if len(args) != 1:
            raise UsageError("Which of your positions? Like '/watch 1'.")
        return Command("watch", number=self._id(args[0]))

    def _unwatch(self, args: list[str]) -> Command:
        if len(args) != 1:
            raise UsageError("Which one? Like '/unwatch W1' (see /watching).")
        number, watch = self._ref(args[0])
        return Command("unwatch", number=number, watch=watch)

    def _watching(self, args: list[str]) -> Command:
        self._done(args, 0)
        return Command("watching")

