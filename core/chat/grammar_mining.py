"""The grammar of /mining: register a fleet, link it to a loan, pledge, what-ifs (mixed into the Parser)."""

from __future__ import annotations

import re
from decimal import Decimal

from core.chat.commands import Command
from core.chat.grammar_words import Words
from core.errors import InvalidAmount, UsageError
from core.lending.numbers import parse_decimal, parse_percent

_RATE = re.compile(r"([0-9][0-9.,]*)?\s*(th|ph|eh)/?s", re.IGNORECASE)
_UNITS = {"th": Decimal(1), "ph": Decimal(1_000), "eh": Decimal(1_000_000)}
# What a fleet can plausibly be: a single small rig to about a tenth of the network, machines from the S9 to
# beyond today's best, power from free to expensive retail, pool fees as pools charge them.
HASHRATE = (Decimal("0.01"), Decimal(100_000_000))  # TH/s
EFFICIENCY = (Decimal(5), Decimal(150))  # J/TH
POWER = (Decimal(0), Decimal("1"))  # USD per kWh
POOL = (Decimal(0), Decimal("0.1"))
WHATIFS = ("difficulty", "halving", "power", "btc")


class MiningGrammar(Words):
    """Needs from the Parser: _id, _done."""

    def _mining(self, args: list[str]) -> Command:
        if not args:
            return Command("mining")
        word = args[0].lower()
        if word == "add":
            return self._mining_add(args[1:])
        if word == "remove":
            if len(args) != 2:
                raise UsageError("Which fleet? Like '/mining remove 1'.")
            return Command("mining", topic="remove", number=self._id(args[1]))
        if word == "whatif":
            return self._mining_whatif(None, args[1:])
        number = self._id(args[0])
        if len(args) == 1:
            return Command("mining", number=number)
        action = args[1].lower()
        if action == "whatif":
            return self._mining_whatif(number, args[2:])
        if action == "loan" and len(args) == 3:
            if args[2].lower() == "off":
                return Command("mining", topic="loan", number=number, switch=False)
            return Command("mining", topic="loan", number=number, options=(("loan", self._id(args[2])),))
        if action == "pledge" and len(args) == 3:
            share = parse_percent(args[2]) if args[2].endswith("%") else None
            if share is None:
                raise UsageError("Give the share of what the fleet keeps as a percentage, like 'pledge 50%'.")
            if not 0 <= share <= 1:
                raise InvalidAmount("A pledge is between 0% and 100% of what the fleet keeps each month.")
            return Command("mining", topic="pledge", number=number, options=(("pledge", share),))
        raise UsageError("After the fleet's id: 'loan N', 'pledge 50%' or 'whatif ...'.")

    def _mining_add(self, args: list[str]) -> Command:
        text = " ".join(args)
        rate = _RATE.search(text)
        if rate is None or rate.group(1) is None:
            raise UsageError("Give the fleet's hashrate, like '/mining add 200 TH/s 17.5 J/TH power 0.06 pool 2%'.")
        hashrate = _within(parse_decimal(rate.group(1)) * _UNITS[rate.group(2).lower()], HASHRATE, "A hashrate",
                           "TH/s")
        rest = (text[: rate.start()] + text[rate.end() :]).split()
        values: dict[str, Decimal] = {}
        i = 0
        while i < len(rest):
            token = rest[i].lower()
            if i + 1 < len(rest) and rest[i + 1].lower() == "j/th":
                values["efficiency"] = _within(parse_decimal(rest[i]), EFFICIENCY, "An efficiency", "J/TH")
                i += 2
            elif token.endswith("j/th"):
                values["efficiency"] = _within(parse_decimal(token[:-4]), EFFICIENCY, "An efficiency", "J/TH")
                i += 1
            elif token in ("power", "pool") and i + 1 < len(rest):
                raw = rest[i + 1].removeprefix("$")
                if token == "power":
                    values["power"] = _within(parse_decimal(raw.removesuffix("/kwh")), POWER, "A power price", "USD per kWh")
                else:
                    values["pool"] = _within(parse_percent(raw), POOL, "A pool fee", "")
                i += 2
            else:
                raise UsageError(f"Unexpected {rest[i][:16]!r}: give J/TH, 'power USD-per-kWh' and 'pool X%'.")
        if "efficiency" not in values or "power" not in values:
            raise UsageError("Give the machines' efficiency and the power price, like '17.5 J/TH power 0.06'.")
        return Command("mining", topic="add", options=(("hashrate", hashrate), *values.items()))

    def _mining_whatif(self, number: int | None, args: list[str]) -> Command:
        if not args:
            raise UsageError("What if what? 'difficulty +10%', 'halving', 'power 0.08' or 'BTC -30%'.")
        word = args[0].lower()
        if word not in WHATIFS:
            raise UsageError(f"Unknown what-if {args[0][:16]!r}: one of difficulty +10%, halving, power 0.08, BTC -30%.")
        if word == "halving":
            self._done(args, 1)
            return Command("mining", topic="whatif", number=number, options=(("halving", True),))
        if len(args) != 2:
            raise UsageError(f"'{word}' needs a value, like '{ {'difficulty': 'difficulty +10%', 'power': 'power 0.08'}.get(word, 'BTC -30%') }'.")
        if word == "power":
            value = _within(parse_decimal(args[1].removeprefix("$")), POWER, "A power price", "USD per kWh")
        else:
            if not args[1].endswith("%"):
                raise UsageError(f"Give the {word} move as a percentage, like '{word} -30%'.")
            value = parse_percent(args[1], signed=True)
            if not Decimal("-0.9") <= value <= Decimal(5):
                raise InvalidAmount("A move between -90% and +500%.")
        return Command("mining", topic="whatif", number=number, options=((word, value),))


def _within(value: Decimal, bounds: tuple[Decimal, Decimal], what: str, unit: str) -> Decimal:
    low, high = bounds
    if not low <= value <= high:
        shown = f"{low * 100:g}% and {high * 100:g}%" if not unit else f"{low:g} and {high:,g} {unit}"
        raise InvalidAmount(f"{what} of {value:,g}{' ' + unit if unit else ''} is out of any plausible range "
                            f"(between {shown}).")
    return value
