"""What every command handler is given: the services it may use, and the helpers all of them share.

A handler is `async def handler(ctx: Context, actor: Actor, cmd: Command) -> Reply`, registered for its
command with `@handles("name")` (core.chat.handlers). It reaches the store, prices, presets and the
rest only through `ctx`, so a test can build a Context of fakes and call one handler alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from core.chain.tracker import LENDERS, Tracker, oracle_symbol
from core.chat import views
from core.chat.buttons import ButtonBook
from core.chat.commands import COMMANDS
from core.chat.grammar import Parser
from core.chat.heavy import HeavyWork
from core.errors import NotPermitted, PositionNotFound, PriceUnavailable, UnsupportedByProtocol
from core.lending.assets import AssetRegistry
from core.lending.models import Actor, Leg, Overrides, Owner, Position, PriceSnapshot, Quote
from core.lending.protocols import Presets, Terms
from core.lending.valuation import Valuation, value
from core.market.mining_data import MiningData
from core.market.ports import PriceBook, PriceSeries, Yields
from core.ports import ChatAdmins, Clock, PositionEvents
from core.replies import Reply, Section, text_lines
from core.storage.store import ChainLink, Store
from core.watch.outbox import Outbox


@dataclass
class Context:
    """The services a handler may use; the optional ones are None where a run has none (the console has no groups)."""

    store: Store
    prices: PriceBook
    registry: AssetRegistry
    presets: Presets
    clock: Clock
    events: PositionEvents
    admins: ChatAdmins
    outbox: Outbox | None = None
    monitor_status: Callable[[], dict[str, float]] | None = None  # the last warning tick's figures, for /status
    yields: Yields | None = None  # pools and borrow rates for /yield and /carry
    history: PriceSeries | None = None  # recorded prices for /chart
    heavy: HeavyWork = field(default_factory=HeavyWork)  # charts and backtests, off the event loop, fair across users
    tracker: Tracker | None = None  # reads wallets' positions from the lenders' contracts (/track)
    mining: MiningData | None = None  # the Bitcoin network's figures for /mining
    parser: Parser = field(init=False)
    buttons: ButtonBook = field(init=False)  # what every button the bot sent stands for

    def __post_init__(self) -> None:
        self.parser = Parser(self.registry)
        self.buttons = ButtonBook(self.store, self.clock)

    def events_wake(self) -> None:
        """New outbox rows: let the dispatcher know (when one runs)."""
        wake = getattr(self.events, "wake", None)
        if callable(wake):
            wake()

    def owner(self, actor: Actor) -> Owner:
        """Whose positions plain ids mean here: the group's in a group chat, else the user's own."""
        if actor.acting_for is not None:
            return actor.acting_for
        if actor.chat.is_group:
            return Owner(actor.chat.platform, "group", actor.chat.chat_id)
        return actor.user

    async def require_admin(self, actor: Actor, doing: str) -> None:
        """Only a group's admins change the group's own positions (asked now, not remembered)."""
        if self.owner(actor).kind == "group" and not await self.admins.is_admin(actor.chat, actor.user, "positions"):
            raise NotPermitted(f"Only this group's admins can {doing}. To track your own positions, message me privately.")

    def position(self, owner: Owner, number: int) -> Position:
        """One of the owner's positions; someone else's number reads exactly like a missing one."""
        position = self.store.position(owner, number)
        if position is None:  # someone else's id gets exactly the same answer as a missing one
            whose = "This group has" if owner.kind == "group" else "You have"
            raise PositionNotFound(f"{whose} no position #{number}. /positions lists them.")
        return position

    def lookup(self, actor: Actor, number: int | None, watch: int | None) -> Position:
        """A plain id (the group's or your own), or a W-number shared into this group."""
        if watch is not None:
            position = self.store.watched(actor.chat, watch) if actor.chat.is_group else None
            if position is None:
                raise PositionNotFound(f"Nothing is shared here as W{watch}. /watching lists what is.")
            return position
        if number is None:
            raise ValueError("a lookup needs a position number or a W-number")
        return self.position(self.owner(actor), number)

    def terms(
        self, protocol: str, market: str | None, collateral: Iterable[Leg], debt: Iterable[Leg], overrides: Overrides
    ) -> Terms:
        """The terms a lender gives these legs, with the position's own overrides."""
        return self.presets.terms(protocol, market, [c.asset for c in collateral], [d.asset for d in debt], overrides)

    def check_overrides(self, terms: Terms, overrides: Overrides) -> None:
        """Refuse options this lender has no use for, rather than store them and silently ignore them."""
        name = views.lender_name(terms)
        unused = [word for word, given, used in (
            ("lltv", overrides.lltv, terms.preset.id == "morpho"),
            ("fee", overrides.fee, terms.preset.id == "liquity-v1"),
            ("margin", overrides.margin_ltv, terms.metric == "ltv"),  # margin calls are a CeFi (and custom) notion
        ) if given is not None and not used]
        if unused:
            raise UnsupportedByProtocol(f"{name} has no {' or '.join(repr(w) for w in unused)} to set.", COMMANDS["add"].usage)

    def link_of(self, position: Position) -> ChainLink | None:
        """The wallet a position follows, or None for one typed in by hand."""
        return self.store.chain_link(position) if position.row_id is not None else None

    def terms_of(self, position: Position, link: ChainLink | None = None) -> Terms:
        """The lender's terms for a position: read from the chain when it follows a wallet, else the preset's."""
        link = link or self.link_of(position)
        return self.presets.of_position(position, link.reading if link is not None else None)

    async def value_of(self, position: Position) -> Valuation:
        """A position at current prices: the lender's oracle for one that follows a wallet, the market's otherwise."""
        link = self.link_of(position)  # one read of the link serves both the terms and the prices
        terms = self.terms_of(position, link)
        snapshot = self.oracle_snapshot(link) if link is not None else await self.prices.snapshot(position.assets())
        return value(terms, position.collateral, position.debt, snapshot, self.registry)

    async def priced_value(self, position: Position, without: str) -> Valuation:
        """value_of, refused in one line when a price is missing: "No price for ETH right now, so {without}."."""
        val = await self.value_of(position)
        if not val.priced:
            raise PriceUnavailable(f"No price for {', '.join(val.missing)} right now, so {without}.")
        return val

    def oracle_snapshot(self, link: ChainLink) -> PriceSnapshot:
        """The lender's own prices from the last chain reading, under their plain symbols."""
        prices = link.reading.get("prices", {})
        chain_name = link.reading.get("chain_name", link.chain)
        names = {oracle_symbol(s, link.lender, chain_name): s for s in prices}
        known = self.tracker.quotes(list(names)) if self.tracker is not None else PriceSnapshot()
        snap = PriceSnapshot()
        for name, symbol in names.items():
            quote = known.quotes.get(name) or Quote(symbol, float(prices[symbol]), f"{lender_label(link.lender)} oracle",
                                                    float(link.reading.get("block_time", 0)))
            snap.quotes[symbol] = replace(quote, asset=symbol)
        return snap

    def detail(self, title: str, val: Valuation, *, target=None, extra: tuple[Section, ...] = ()) -> Reply:
        """The full health answer shared by /health, /add, /deposit, /withdraw, /borrow and /repay."""
        sections = [views.holdings(val), *extra]
        if val.priced:
            sections.append(views.health(val))
            for section in (views.liquidation_prices(val), views.borrowing(val, target), views.liquidation_cost(val)):
                if section is not None and section.lines:
                    sections.append(section)
        else:
            missing = ", ".join(f"{a} ({why})" for a, why in val.missing.items())
            sections.append(Section("Health", text_lines(
                f"Cannot be valued right now: no price for {missing}.",
                # Said here because the monitor's "paused" notices go only to chats that were being warned already.
                f"Warnings for it start once {', '.join(val.missing)} {'has a' if len(val.missing) == 1 else 'have'} "
                f"trusted price{'s' if len(val.missing) > 1 else ''} again.")))
        return Reply(title, tuple(sections), val.severity, footer=views.price_footer(val, self.clock.time()))


def lender_label(lender: str) -> str:
    """A chain lender's display name ("Aave v3")."""
    return LENDERS.get(lender, lender)
