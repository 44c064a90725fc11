"""Value objects shared by the core: assets, legs, positions, owners, chats and quotes."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple


@dataclass(frozen=True)
class ChatRef:
    """A chat on some platform, the only way the core addresses a conversation."""

    platform: str
    chat_id: str
    is_group: bool = False

    @property
    def key(self) -> str:
        """Stable text key for storage."""
        return f"{self.platform}:{self.chat_id}"


@dataclass(frozen=True)
class Owner:
    """Who a position belongs to: a user, or a group chat (a treasury)."""

    platform: str
    kind: str  # "user" or "group"
    id: str

    @property
    def key(self) -> str:
        """Stable text key for storage."""
        return f"{self.platform}:{self.kind}:{self.id}"

    @classmethod
    def from_key(cls, key: str) -> Owner:
        """Inverse of `key`."""
        platform, kind, ident = key.split(":", 2)
        return cls(platform, kind, ident)


@dataclass(frozen=True)
class Actor:
    """Who is typing, and in which chat."""

    user: Owner
    chat: ChatRef
    name: str = ""
    acting_for: Owner | None = None  # whose positions plain ids mean (default: the group's in a group, else the user's)
    chat_title: str | None = None  # the group's name as its members see it ("Borrowers", "#alerts in Borrowers")
    may_post: bool | None = None  # whether the platform lets the bot post in this chat now (None: it did not say)


@dataclass(frozen=True)
class Asset:
    """An entry of the asset registry."""

    symbol: str
    name: str
    stable: bool = False  # pegged to one US dollar
    fixed: bool = False  # worth exactly one US dollar by definition (USD itself)
    moves_with: str | None = None  # e.g. WETH moves with ETH: a shock to ETH applies to it
    aliases: tuple[str, ...] = ()
    source_ids: tuple[tuple[str, str], ...] = ()  # (source name, that source's id)

    def id_for(self, source: str) -> str | None:
        """The id a price source uses for this asset, if it quotes it."""
        return dict(self.source_ids).get(source)


@dataclass(frozen=True)
class Leg:
    """An amount of one asset, on the collateral or the debt side."""

    asset: str
    amount: Decimal


@dataclass(frozen=True)
class Overrides:
    """Per-position parameters that replace the preset's (all optional)."""

    ltv: Decimal | None = None
    lt: Decimal | None = None
    margin_ltv: Decimal | None = None
    penalty: Decimal | None = None
    lltv: Decimal | None = None
    fee: Decimal | None = None  # Liquity v1 borrowing fee

    def as_dict(self) -> dict[str, str]:
        """Only the fields that are set, as decimal strings."""
        return {k: str(v) for k, v in self.__dict__.items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> Overrides:
        """Inverse of `as_dict`."""
        return cls(**{k: Decimal(v) for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Position:
    """A registered borrowing position: collateral legs, debt legs and the lender's terms."""

    owner: Owner
    number: int  # the id the owner sees (#1, #2 ...)
    protocol: str
    market: str | None
    collateral: tuple[Leg, ...]
    debt: tuple[Leg, ...] = ()
    overrides: Overrides = field(default_factory=Overrides)
    label: str | None = None
    created_at: str = ""
    row_id: int | None = None  # storage key; never shown

    def assets(self) -> set[str]:
        """Every asset symbol on either side."""
        return {leg.asset for leg in self.collateral + self.debt}

    @property
    def stored_id(self) -> int:
        """The storage key of a position read from the store (one not yet saved has none)."""
        if self.row_id is None:
            raise ValueError(f"{self.ref} has not been stored")
        return self.row_id

    @property
    def ref(self) -> str:
        """How replies name it: #1 (label)."""
        return f"#{self.number}" + (f" ({self.label})" if self.label else "")


class Card(NamedTuple):
    """A position as a warning needs it: who, which, the lender, the legs as floats."""

    row_id: int
    owner: Owner
    number: int
    label: str | None
    protocol: str
    market: str | None
    overrides: str  # as stored (JSON)
    collateral: tuple[tuple[str, float], ...]
    debt: tuple[tuple[str, float], ...]

    @property
    def ref(self) -> str:
        """#1 (label)."""
        return f"#{self.number}" + (f" ({self.label})" if self.label else "")


class Severity(enum.IntEnum):
    """How urgent a position (or a reply) is; ordered so that max() is the worst."""

    INFO = 0
    OK = 1
    WARNING = 2
    DANGER = 3
    LIQUIDATABLE = 4


@dataclass(frozen=True)
class Quote:
    """A price for one asset in USD, with where and when it came from."""

    asset: str
    price: float
    source: str
    as_of: float  # unix seconds of the price itself
    trusted: bool = True
    note: str = ""


@dataclass
class PriceSnapshot:
    """Quotes by symbol, and for each symbol without one, the reason."""

    quotes: dict[str, Quote] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)

    def price(self, symbol: str) -> float | None:
        """The USD price, or None."""
        quote = self.quotes.get(symbol)
        return quote.price if quote else None
