"""The grammar of the analysis commands: /yield /rate /carry /backtest /il /chart (mixed into the Parser)."""

from __future__ import annotations

import re
from decimal import Decimal

from core.chat.commands import Command
from core.chat.grammar_words import Words
from core.errors import InvalidAmount, UsageError
from core.lending.numbers import parse_amount, parse_percent

WINDOWS = ("2020-03", "2021-05", "2022-06", "2022-11", "all")
_RANGE = re.compile(r"([^-]+)-([^-]+)")


class AnalysisGrammar(Words):
    """Needs from the Parser: _id, _symbol, _done."""

    def _yield(self, args: list[str]) -> Command:
        if not args:
            raise UsageError("Which asset? Like '/yield USDC'.")
        asset = self._symbol(args[0])
        options: dict[str, object] = {}
        i = 1
        while i < len(args):
            word = args[i].lower()
            if word in ("stable", "no-il", "single", "all"):
                options[{"stable": "stable_only", "no-il": "no_il", "single": "single_only", "all": "include_outliers"}[word]] = True
                i += 1
            elif word == "chain" and i + 1 < len(args):
                chain = args[i + 1]
                if not re.fullmatch(r"[A-Za-z0-9 ._-]{1,32}", chain):
                    raise UsageError("A chain is a name like ethereum or arbitrum.")
                options["chain"] = chain
                i += 2
            elif word in ("min-tvl", "tvl") and i + 1 < len(args):
                given = args[i + 1].lstrip("$")
                # 0 is a real answer here: no TVL floor at all (every other amount must be more than zero)
                options["min_tvl"] = 0.0 if given in ("0", "0.0") else float(parse_amount(given))
                i += 2
            else:
                raise UsageError(f"I did not understand {args[i][:24]!r}: try chain NAME, min-tvl 5m, stable, no-il or single.")
        return Command("yield", assets=(asset,), options=tuple(options.items()))

    def _rate(self, args: list[str]) -> Command:
        if len(args) not in (1, 2):
            raise UsageError("Which position, and what rate? Like '/rate 1 5.2%'.")
        number = self._id(args[0])
        if len(args) == 1:
            return Command("rate", number=number)  # show the rate in use
        if args[1].lower() == "off":
            return Command("rate", number=number, switch=False)
        value = parse_percent(args[1])
        if not 0 <= value <= 10:
            raise InvalidAmount("A borrow rate is between 0% and 1000% a year.")
        return Command("rate", number=number, options=(("apr", value),))

    def _carry(self, args: list[str]) -> Command:
        if not args:
            raise UsageError("Which position? Like '/carry 1'.")
        number = self._id(args[0])
        options: tuple[tuple[str, Decimal], ...] = ()
        if len(args) >= 2:
            if args[1].lower() != "yield" or len(args) != 3:
                raise UsageError("Give the yield you expect like 'yield 8%', or leave it to me.")
            value = parse_percent(args[2])
            if not 0 <= value <= 10:
                raise InvalidAmount("A yield is between 0% and 1000% a year.")
            options = (("apy", value),)
        return Command("carry", number=number, options=options)

    def _backtest(self, args: list[str]) -> Command:
        if not args:
            raise UsageError("Which position? Like '/backtest 1'.")
        number = self._id(args[0])
        window = args[1].lower() if len(args) > 1 else "all"
        if window not in WINDOWS:
            raise UsageError(f"The bundled crashes are {', '.join(WINDOWS[:-1])}; or 'all'.")
        self._done(args, 2)
        return Command("backtest", number=number, topic=window)

    def _risk(self, args: list[str]) -> Command:
        if not args:
            raise UsageError("Which position? Like '/risk 1'.")
        number = self._id(args[0])
        self._done(args, 1)
        return Command("risk", number=number)

    def _il(self, args: list[str]) -> Command:
        if len(args) not in (3, 5):
            raise UsageError("Give the pair and two prices, like '/il ETH-USDC 3000 4500'.")
        pair = _RANGE.fullmatch(args[0])
        if not pair:
            raise UsageError("A pair looks like ETH-USDC.")
        assets = (self._symbol(pair.group(1)), self._symbol(pair.group(2)))
        if assets[0] == assets[1]:
            raise UsageError("A pair needs two different assets, like ETH-USDC.")
        p0, p1 = float(parse_amount(args[1].lstrip("$"))), float(parse_amount(args[2].lstrip("$")))
        options: list[tuple[str, object]] = [("from", p0), ("to", p1)]
        if len(args) == 5:
            bounds = _RANGE.fullmatch(args[4]) if args[3].lower() == "range" else None
            if not bounds:
                raise UsageError("A range looks like 'range 2000-4000'.")
            low, high = float(parse_amount(bounds.group(1).lstrip("$"))), float(parse_amount(bounds.group(2).lstrip("$")))
            if not low < p0 < high:
                raise InvalidAmount("The range must contain the starting price (low < FROM < high).")
            options += [("low", low), ("high", high)]
        return Command("il", assets=assets, options=tuple(options))

    def _chart(self, args: list[str]) -> Command:
        if not args:
            raise UsageError("Which position? Like '/chart 1'.")
        number = self._id(args[0])
        whatif = len(args) > 1 and args[1].lower() == "whatif"
        self._done(args, 2 if whatif else 1)
        return Command("chart", number=number, topic="whatif" if whatif else None)
