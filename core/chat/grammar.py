"""The text command grammar shared by Telegram and the console: text in, a typed command out.

Every rejection is a UsageError carrying the command's usage line; nothing here touches storage.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from decimal import Decimal

from core.chat.commands import COMMANDS, Command, PositionSpec, Shock, Target
from core.chat.grammar_analysis import AnalysisGrammar
from core.chat.grammar_chain import ChainGrammar
from core.chat.grammar_mining import MiningGrammar
from core.chat.grammar_warnings import WarningGrammar
from core.chat.grammar_words import Words
from core.errors import InvalidAmount, UnknownCommand, UsageError
from core.lending.models import Leg, Overrides
from core.lending.numbers import MAX_AMOUNT, looks_like_amount, parse_amount, parse_decimal, parse_percent

MAX_LINE = 1000
MAX_LEGS = 10
MAX_LABEL = 32


_COMMAND = re.compile(r"/([A-Za-z_]{1,32})(?:@[A-Za-z0-9_]{1,64})?")
_KEYWORDS = {"borrow", "on", "as", "ltv", "lt", "lltv", "margin", "penalty", "fee", "hf", "cr", "yes"}


# ---------------------------------------------------------------- parser


def check_line(text: str) -> str:
    """Reject what no command can be: overlong lines and control characters."""
    if len(text) > MAX_LINE:
        raise UsageError(f"That message is too long ({len(text):,} characters; the limit is {MAX_LINE}).")
    for ch in text:
        if ch in "\t\n\r":
            continue
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            raise UsageError("That message contains control or invisible characters; please retype it.")
    return text


def command_name(text: str) -> str | None:
    """The lower-case command name of a slash message ('/Health@bot 1' -> 'health'), else None."""
    token = text.strip().split(maxsplit=1)[0] if text.strip() else ""
    match = _COMMAND.fullmatch(token)
    return match.group(1).lower() if match else None


class Parser(WarningGrammar, AnalysisGrammar, ChainGrammar, MiningGrammar, Words):
    """Parses one line into a Command, using the asset registry to validate symbols."""

    def parse(self, text: str) -> Command:
        """Parse a slash command or raise a UsageError that carries its usage line."""
        stripped = text.strip()
        named = COMMANDS.get(command_name(stripped[:80]) or "")
        try:
            check_line(text)
        except UsageError as err:
            err.usage = named.usage if named else None
            raise
        if not stripped.startswith("/") or stripped == "/":
            raise UnknownCommand("Commands start with / followed by a name, like /help.", COMMANDS["help"].usage)
        name = command_name(stripped)
        if name is None:
            raise UnknownCommand("That is not a command I know. /help lists them.", COMMANDS["help"].usage)
        spec = COMMANDS.get(name)
        if spec is None:
            raise UnknownCommand(f"There is no /{name} command. /help lists them.", COMMANDS["help"].usage)
        args = stripped.split()[1:]
        try:
            return getattr(self, f"_{name}")(args)
        except UsageError as err:
            if err.usage is None:
                err.usage = spec.usage
            raise

    # -- small pieces

    def _legs(self, args: list[str], i: int, what: str) -> tuple[tuple[Leg, ...], int]:
        """Read AMOUNT ASSET pairs from args[i:] until a keyword or the end."""
        legs: list[Leg] = []
        while i < len(args) and args[i].lower() not in _KEYWORDS:
            token = args[i]
            if not looks_like_amount(token) and i + 1 < len(args) and looks_like_amount(args[i + 1]):
                typo = difflib.get_close_matches(token.lower(), _KEYWORDS, n=1, cutoff=0.75)
                if typo:  # '10 ETH borow 15000 USDC': a misspelt keyword, not an asset put first
                    raise UsageError(f"Did you mean '{typo[0]}' instead of '{token}'?")
                raise UsageError(f"Put the amount before the asset: '{args[i + 1]} {token}'.")
            amount = parse_amount(token)
            if i + 1 >= len(args) or args[i + 1].lower() in _KEYWORDS:
                raise UsageError(f"{token} of what? Give an asset after the amount, like '{token} ETH'.")
            symbol = self._symbol(args[i + 1])
            legs.append(Leg(symbol, amount))
            i += 2
        if not legs:
            raise UsageError(f"Give {what} as an amount and an asset, like '10 ETH'.")
        merged = _merge(legs)  # '1 ETH 1 ETH' is one asset: count assets after adding up
        if len(merged) > MAX_LEGS:
            raise UsageError(f"At most {MAX_LEGS} assets on each side of a position.")
        return merged, i

    def _percent_arg(self, args: list[str], i: int, word: str) -> Decimal:
        if i >= len(args):
            raise UsageError(f"'{word}' needs a percentage, like '{word} 80%'.")
        value = parse_percent(args[i])
        if not 0 < value < 1:
            raise InvalidAmount(f"'{word} {args[i]}' must be above 0% and below 100%.")
        return value

    def _spec(self, args: list[str], i: int, *, need_protocol: bool) -> tuple[PositionSpec, int]:
        """Legs, optional borrow legs, 'on LENDER [MARKET] [options]', optional 'as LABEL'."""
        collateral, i = self._legs(args, i, "the collateral")
        debt: tuple[Leg, ...] = ()
        if i < len(args) and args[i].lower() == "borrow":
            debt, i = self._legs(args, i + 1, "the debt after 'borrow'")
        protocol = market = label = None
        opts: dict[str, Decimal] = {}
        if i < len(args) and args[i].lower() == "on":
            if i + 1 >= len(args) or args[i + 1].lower() in _KEYWORDS:
                raise UsageError("Say which lender after 'on', like 'on aave-v3' (/protocols lists them).")
            protocol = args[i + 1].lower()
            i += 2
            if i < len(args) and args[i].lower() not in _KEYWORDS:
                market = args[i]
                i += 1
            while i < len(args) and args[i].lower() in ("ltv", "lt", "lltv", "margin", "penalty", "fee"):
                word = args[i].lower()
                if word in opts:
                    raise UsageError(f"'{word}' is given twice.")
                opts[word] = self._percent_arg(args, i + 1, word)
                i += 2
        if i < len(args) and args[i].lower() == "as":
            words = args[i + 1 :]
            label = " ".join(words)
            if not label:
                raise UsageError("Give a label after 'as', like 'as main'.")
            if len(label) > MAX_LABEL:
                raise UsageError(f"Labels are at most {MAX_LABEL} characters.")
            i = len(args)
        if need_protocol and protocol is None and i >= len(args):
            raise UsageError("Say which lender, like '... on aave-v3' (/protocols lists them).")
        overrides = Overrides(
            ltv=opts.get("ltv"),
            lt=opts.get("lt"),
            margin_ltv=opts.get("margin"),
            penalty=opts.get("penalty"),
            lltv=opts.get("lltv"),
            fee=opts.get("fee"),
        )
        return PositionSpec(collateral, debt, protocol, market, overrides, label), i

    def _target(self, args: list[str], i: int) -> tuple[Target | None, int]:
        if i >= len(args) or args[i].lower() not in ("hf", "ltv", "cr"):
            return None, i
        kind = args[i].lower()
        if i + 1 >= len(args):
            raise UsageError(f"'{kind}' needs a value, like 'hf 1.5', 'ltv 60%' or 'cr 200%'.")
        token = args[i + 1]
        if kind == "hf":
            value = parse_decimal(token)
            if not Decimal(1) < value <= 100:
                raise InvalidAmount("A target health factor must be above 1 (and at most 100).")
        else:
            value = parse_percent(token)
            if kind == "ltv" and not 0 < value < 1:
                raise InvalidAmount("A target LTV must be between 0% and 100%.")
            if kind == "cr" and not 1 < value <= 100:
                raise InvalidAmount("A target collateral ratio must be above 100%.")
        return Target(kind, value), i + 2

    # -- one method per command

    def _start(self, args: list[str]) -> Command:
        return Command("start")

    def _help(self, args: list[str]) -> Command:
        topic = args[0].lstrip("/").lower() if args else None
        if topic is not None and topic not in COMMANDS:
            raise UsageError(f"There is no /{topic[:32]} command.")
        self._done(args, 1 if args else 0)
        return Command("help", topic=topic)

    def _add(self, args: list[str]) -> Command:
        if not args:
            raise UsageError("Tell me what you hold and owe.")
        spec, i = self._spec(args, 0, need_protocol=True)
        self._done(args, i)
        return Command("add", spec=spec)

    def _positions(self, args: list[str]) -> Command:
        self._done(args, 0)
        return Command("positions")

    def _health(self, args: list[str]) -> Command:
        number, watch = self._ref(args[0]) if args else (None, None)
        self._done(args, 1 if args else 0)
        return Command("health", number=number, watch=watch)

    def _change(self, name: str, args: list[str]) -> Command:
        if not args:
            raise UsageError("Which position, and how much?")
        number = self._id(args[0])
        legs, i = self._legs(args, 1, "what changes")
        self._done(args, i)
        return Command(name, number=number, legs=legs)

    def _deposit(self, args: list[str]) -> Command:
        return self._change("deposit", args)

    def _withdraw(self, args: list[str]) -> Command:
        return self._change("withdraw", args)

    def _borrow(self, args: list[str]) -> Command:
        return self._change("borrow", args)

    def _repay(self, args: list[str]) -> Command:
        return self._change("repay", args)

    def _remove(self, args: list[str]) -> Command:
        if not args:
            raise UsageError("Which position? Give its id.")
        number = self._id(args[0])
        confirmed = len(args) > 1 and args[1].lower() == "yes"
        self._done(args, 2 if confirmed else 1)
        return Command("remove", number=number, confirmed=confirmed)

    def _capacity(self, args: list[str]) -> Command:
        if args and args[0].lower() not in _KEYWORDS and (len(args) == 1 or args[1].lower() in _KEYWORDS):
            number, watch = self._ref(args[0])
            target, i = self._target(args, 1)
            self._done(args, i)
            return Command("capacity", number=number, watch=watch, target=target)
        if args and args[0].lower() not in _KEYWORDS:
            spec, i = self._spec(args, 0, need_protocol=False)
            if spec.protocol is None:
                raise UsageError("Say which lender for a hypothetical position, like '10 ETH on aave-v3'.")
            if spec.label is not None:  # 'as' would also swallow a target after it
                raise UsageError("A hypothetical position has no label: leave out 'as ...'.")
            target, i = self._target(args, i)
            self._done(args, i)
            return Command("capacity", spec=spec, target=target)
        target, i = self._target(args, 0)
        self._done(args, i)
        return Command("capacity", target=target)

    def _whatif(self, args: list[str]) -> Command:
        i = 0
        number = None
        if args and self._is_id(args[0]):
            number = self._id(args[0])
            i = 1
        shocks: list[Shock] = []
        while i < len(args):
            token = args[i]
            if token.startswith(("+", "-")) or token.endswith("%"):
                raise UsageError(f"Which asset moves {token[:16]}? Name it first, like 'ETH {token[:16]}'.")
            asset = "ALL" if token.upper() == "ALL" else self._symbol(token)
            if i + 1 >= len(args):
                raise UsageError(f"How does {asset} move? Like '{asset} -30%' or '{asset} 2000'.")
            shocks.append(self._shock(asset, args[i + 1]))
            i += 2
        if not shocks:
            raise UsageError("Which price moves? Like '/whatif ETH -30%'.")
        if len(shocks) > MAX_LEGS:
            raise UsageError(f"At most {MAX_LEGS} price moves at once.")
        if len({s.asset for s in shocks}) != len(shocks):
            raise UsageError("Each asset may move only once.")
        return Command("whatif", number=number, shocks=tuple(shocks))

    def _shock(self, asset: str, token: str) -> Shock:
        if token.startswith(("+", "-")) or token.endswith("%"):
            if not token.startswith(("+", "-")):
                raise UsageError(f"Say which way {asset} moves: '{asset} -{token}' or '{asset} +{token}'.")
            if token in ("+", "-", "%", "+%", "-%"):
                raise UsageError(f"How far does {asset} move? Like '{asset} -30%'.")
            move = parse_percent(token, signed=True)
            if not Decimal(-1) <= move <= Decimal(10):
                raise InvalidAmount("A move must be between -100% and +1000%.")
            return Shock(asset, move=move)
        if asset == "ALL":
            raise UsageError("ALL takes a percentage move, like 'ALL -30%'.")
        return Shock(asset, price=parse_amount(token.lstrip("$")))

    def _price(self, args: list[str]) -> Command:
        if len(args) > MAX_LEGS:
            raise UsageError(f"At most {MAX_LEGS} assets at once.")
        return Command("price", assets=tuple(dict.fromkeys(self._symbol(a) for a in args)))

    def _protocols(self, args: list[str]) -> Command:
        topic = args[0].lower() if args else None
        self._done(args, 1 if args else 0)
        return Command("protocols", topic=topic)

    def _status(self, args: list[str]) -> Command:
        self._done(args, 0)
        return Command("status")

    def _export(self, args: list[str]) -> Command:
        self._done(args, 0)
        return Command("export")

    def _forget(self, args: list[str]) -> Command:
        confirmed = bool(args) and args[0].lower() == "yes"
        self._done(args, 1 if confirmed else 0)
        return Command("forget", confirmed=confirmed)


def _merge(legs: list[Leg]) -> tuple[Leg, ...]:
    """Add up repeated assets ('1 ETH 2 ETH' is 3 ETH), keeping first-seen order."""
    totals: dict[str, Decimal] = {}
    for leg in legs:
        totals[leg.asset] = totals.get(leg.asset, Decimal(0)) + leg.amount
        if totals[leg.asset] > MAX_AMOUNT:
            raise InvalidAmount(f"{leg.asset} adds up to more than this bot handles (1e15).")
    return tuple(Leg(a, amt) for a, amt in totals.items())
