"""Strict parsing of user-typed numbers, and the formatting of money, amounts and percentages.

Decimal() accepts far too much ('NaN', 'Infinity', '1e999999999', Arabic-Indic and full-width
digits, underscores), so every user number goes through a whitelist regex of ASCII digits first.
"""

from __future__ import annotations

import math
import re
from decimal import ROUND_HALF_UP, Decimal, localcontext

from core.errors import InvalidAmount

MAX_TOKEN = 32
MAX_AMOUNT = Decimal("1e15")
MAX_DECIMALS = 18
MAX_DIGITS = 28  # significant digits Decimal's default context keeps: later arithmetic would round more
_EXACT = 64  # more than any 32-character token times a suffix has, so parsing itself never rounds

_AMOUNT = re.compile(r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?|\.[0-9]+")
_SUFFIX = {"k": Decimal(1_000), "m": Decimal(1_000_000), "b": Decimal(1_000_000_000)}
_PLAIN = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


def _explain(token: str, wanted: str = "an amount (try 15000, 15,000.5, 15k or 1.5m)") -> str:
    shown = token if len(token) <= MAX_TOKEN else token[:MAX_TOKEN] + "…"
    low = token.lower().lstrip("+-")
    if low in ("nan", "snan", "inf", "infinity"):
        return f"{shown!r} is not a number."
    if token.startswith("-"):
        return f"{shown!r}: amounts must be positive."
    if any(ch.isdigit() and not ("0" <= ch <= "9") for ch in token):
        return f"{shown!r}: please type digits 0-9."
    if "e" in low and any(c.isdigit() for c in low):
        return f"{shown!r}: write the number out (like 15000 or 15k), without exponents."
    return f"{shown!r} is not {wanted}."


def looks_like_amount(token: str) -> bool:
    """True when the token is shaped like an amount (it may still be out of range)."""
    t = token.lower()
    if t and t[-1] in _SUFFIX:
        t = t[:-1]
    return len(token) <= MAX_TOKEN and bool(_AMOUNT.fullmatch(t))


def parse_amount(token: str) -> Decimal:
    """A positive amount: 15000, 15000.5, 15,000, 15k, 1.5m (ASCII digits only, bounded)."""
    t = token.lower()
    multiplier = Decimal(1)
    if t and t[-1] in _SUFFIX:
        multiplier = _SUFFIX[t[-1]]
        t = t[:-1]
    if len(token) > MAX_TOKEN or not _AMOUNT.fullmatch(t):
        raise InvalidAmount(_explain(token))
    # With the default 28 digits, '999999999999999.9999999999999999' * 1 rounded to 1E+15 and passed the limit.
    with localcontext(prec=_EXACT):
        value = Decimal(t.replace(",", "")) * multiplier
        if value <= 0:
            raise InvalidAmount(f"{token!r}: amounts must be more than zero.")
        if value > MAX_AMOUNT:
            raise InvalidAmount(f"{token!r} is larger than this bot handles (1e15).")
        exact = value.normalize()
        exponent = exact.as_tuple().exponent
        assert isinstance(exponent, int)  # finite: checked above
        if -exponent > MAX_DECIMALS:
            raise InvalidAmount(f"{token!r} has more than {MAX_DECIMALS} decimals.")
        if len(exact.as_tuple().digits) > MAX_DIGITS:
            raise InvalidAmount(f"{token!r} has more than {MAX_DIGITS} significant digits; round it a little.")
        return exact if value == value.to_integral() else value


def parse_decimal(token: str, *, signed: bool = False, wanted: str = "a number (like 1.5)") -> Decimal:
    """A plain decimal such as 1.5 or -30 (no exponent, no separators)."""
    if len(token) > MAX_TOKEN or not _PLAIN.fullmatch(token):
        raise InvalidAmount(_explain(token, wanted))
    if not signed and token.startswith(("+", "-")):
        raise InvalidAmount(f"{token!r}: give a number without a sign.")
    return Decimal(token)


def parse_percent(token: str, *, signed: bool = False) -> Decimal:
    """'80%' or '80' -> Decimal('0.8'); with signed=True '-30%' -> Decimal('-0.3')."""
    body = token[:-1] if token.endswith("%") else token
    return parse_decimal(body, signed=signed, wanted=f"a percentage (like {'-30%' if signed else '5.2%'})") / 100


# ---------------------------------------------------------------- formatting


def fmt_amount(value: Decimal | float) -> str:
    """An asset amount: grouped thousands, no trailing zeros, 8 decimals (8 significant digits below 1)."""
    d = Decimal(str(value)) if not isinstance(value, Decimal) else value
    if not d.is_finite():
        return "—"
    # Below 1, count significant digits, not decimals: 0.000000001 ETH (a gwei) must not print as 0.
    places = max(min(d.adjusted() - 7, -8), -18) if d and abs(d) < 1 else -8
    exponent = d.as_tuple().exponent
    d = d.quantize(Decimal(1).scaleb(places), rounding=ROUND_HALF_UP) if isinstance(exponent, int) and exponent < places else d
    text = f"{d:,f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def fmt_usd(value: float) -> str:
    """Money in USD: $30,000.00, $0.4213 for small prices, — when unknown."""
    if value is None or not math.isfinite(value):
        return "—"
    sign = "-" if value < 0 else ""
    v = abs(value)
    if v != 0 and v < 1:
        return f"{sign}${v:,.4f}"
    return f"{sign}${v:,.2f}"


def fmt_units(value: float, symbol: str) -> str:
    """A derived amount of an asset (two decimals for stablecoins-sized numbers, more for small)."""
    if not math.isfinite(value):
        return f"— {symbol}"
    if abs(value) >= 100:
        text = f"{value:,.2f}".removesuffix(".00")
    else:
        digits = 4 if abs(value) >= 1 else 6
        text = f"{value:,.{digits}f}".rstrip("0").rstrip(".")
    return f"{text} {symbol}"


def fmt_pct(fraction: float, digits: int = 1) -> str:
    """0.5 -> '50.0%'."""
    if fraction is None or not math.isfinite(fraction):
        return "—"
    return f"{fraction * 100:.{digits}f}%"


def fmt_hf(hf: float) -> str:
    """Health factor with two decimals, rounded down so 0.996 never reads as 1.00; ∞ with no debt."""
    if hf == math.inf:
        return "∞"
    if not math.isfinite(hf):
        return "—"
    if hf >= 100:
        return f"{hf:,.0f}"
    shown = math.floor(hf * 100 + 1e-9) / 100  # the epsilon keeps 1.66 (stored as 1.6599...) at 1.66
    if hf < 1:
        shown = min(shown, 0.99)  # but a liquidatable position never reads as 1.00
    return f"{shown:.2f}"


def age_text(seconds: float) -> str:
    """'12 s', '3 min', '2 h', '3 d'."""
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} d"
