"""Positions that follow a wallet: read every tracked account of each chain at one block, store what the
lender sees (amounts with interest, its thresholds, its oracle prices, its health factor), and quote those
oracle prices to the monitor so a warning means what a liquidator sees."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from decimal import Decimal

from core.chain import ens
from core.chain import liquity2 as liquity2_
from core.chain.abi import BadReturn
from core.chain.account import Account
from core.chain.addresses import AddressBook
from core.chain.multicall import Head, head
from core.chain.news import LiquidationLogs
from core.chain.readers import ChainState, Readers
from core.chain.rpc import CallReverted, RpcClient, RpcError
from core.errors import UsageError
from core.lending.models import Leg, PriceSnapshot, Quote
from core.ports import Clock, PositionEvents
from core.storage.store import ChainLink, Store

log = logging.getLogger(__name__)

LENDERS = {"aave-v3": "Aave v3", "compound-v3": "Compound v3", "liquity-v1": "Liquity v1", "liquity-v2": "Liquity v2",
           "maker": "Maker", "morpho": "Morpho Blue"}
STALE_AFTER = 600.0  # a head that has not moved for this long (by our clock) is stale: Ethereum makes 50 blocks in that time
HISTORY = 60  # a Liquity v1 trove's last readings kept (by block), to tell what a redemption took


def oracle_symbol(asset: str, lender: str, chain_name: str) -> str:
    """How the monitor names an asset priced by a lender's oracle: "WETH (Aave v3 oracle, Ethereum)"."""
    return f"{asset} ({LENDERS.get(lender, lender)} oracle, {chain_name})"


def marker_symbol(number: int, lender: str, chain_name: str) -> str:
    """A position's own read as the monitor tracks it: trusted while its calls answer, so one failing account pauses alone."""
    return f"the chain reading of #{number} ({LENDERS.get(lender, lender)} on {chain_name})"


def is_oracle_symbol(symbol: str) -> bool:
    """Whether the monitor gets this symbol's price from the chain reader rather than the market feed."""
    return symbol.endswith(")") and (" oracle, " in symbol or symbol.startswith("the chain reading of "))


@dataclass(frozen=True)
class Found:
    """What /track found for one lender on one chain."""

    chain: str
    lender: str
    account: Account
    head: Head
    market_ref: str | None = None  # the Morpho Blue market id, the Comet market, the Maker vault id, "WETH:trove id"
    market_name: str | None = None  # the preset market it reads as (Maker's ilk, Liquity v2's branch)


class Tracker:
    """Reads followed accounts, keeps the store's positions in step, and quotes the lenders' oracle prices."""

    def __init__(self, store: Store, book: AddressBook, clients: dict[str, RpcClient], clock: Clock,
                 usd: Callable[[str], Awaitable[float | None]] | None = None, budget: float = 60.0,
                 events: PositionEvents | None = None):
        self.store, self.book, self.clock = store, book, clock
        self.events = events  # the monitor, told when a followed position's amounts or terms change
        self.budget = budget  # seconds one lender's reads on one chain may take in a tick
        self.read = Readers(book, usd or _no_price)
        self.logs = LiquidationLogs(store, book, self.read)
        self.chains = {k: ChainState(k, book.chains[k].name, c) for k, c in clients.items() if k in book.chains}
        self._quotes: dict[str, Quote] = {}
        self._bad: dict[str, str] = {}  # oracle symbol -> why it cannot be trusted now
        self._lines: dict[int, float] = {}  # position id -> its Liquity v2 redemption line, this tick

    # ---------------------------------------------------------------- start

    async def check_chain_ids(self, chains: Iterable[str]) -> list[str]:
        """Ask these chains' nodes which chain they are; a wrong answer refuses that chain (one line each)."""
        lines = []
        for state in (self.chains[c] for c in chains if c in self.chains):
            expected = self.book.chains[state.key].chain_id
            try:
                answer = int(str(await state.client.call("eth_chainId", [])), 16)
            except (RpcError, ValueError) as err:
                state.error = getattr(err, "message", str(err))
                continue  # unreachable now is an outage, not a wrong chain: retried every tick
            if answer != expected:
                state.refused = f"{state.client.url_in_use} answers chain id {answer}, not {state.name}'s {expected}"
                lines.append(f"{state.name} is not read: {state.refused}.")
        return lines

    def usable(self, chain: str) -> bool:
        state = self.chains.get(chain)
        return state is not None and not state.refused

    # ---------------------------------------------------------------- /track

    async def resolve_name(self, name: str) -> str:
        """An ENS name's address, asked of Ethereum now; NotResolved, RpcError or BadReturn when it cannot be."""
        state = self.chains.get("ethereum")
        if state is None or state.refused:
            raise RpcError("no Ethereum RPC URL is configured to resolve ENS names", "config")
        return await ens.resolve(state.client, name, (await self._head(state)).number)

    async def find(self, address: str, lenders: Iterable[str], chains: Iterable[str],
                   market: str | None = None) -> tuple[list[Found], list[str]]:
        """The positions `address` holds on these lenders and chains now, and what could not be read."""
        found: list[Found] = []
        failed: list[str] = []
        for chain in chains:
            state = self.chains.get(chain)
            if state is None or state.refused:
                continue
            try:
                now_head = await self._head(state)
            except RpcError as err:
                failed.append(f"{state.name} ({err.kind})")
                continue
            for lender in lenders:
                try:
                    found += await self._find_on(state, now_head, lender, address, market, failed)
                except RpcError as err:
                    failed.append(f"{state.name} ({err.kind})")
                except (BadReturn, CallReverted) as err:  # this lender misconfigured: the others are still asked
                    failed.append(f"{state.name} ({err.message})")
        return found, failed

    async def _find_on(self, state: ChainState, now_head: Head, lender: str, address: str, market: str | None,
                       failed: list[str]) -> list[Found]:
        """What `address` holds on one lender of one chain; unreadable accounts go to `failed`."""
        chain = state.key
        if lender == "aave-v3" and chain in self.book.aave:
            accounts = await self.read.aave(state, now_head.number, {address: None}, {1})
            refs: list[tuple[str | None, Account | str | None]] = [(None, accounts.get(address))]
        elif lender == "compound-v3" and chain in self.book.comets:
            keys = list(self.book.comets[chain])
            got = await self.read.compound(state, now_head.number, {(address, k): None for k in keys})
            refs = [(k, got.get((address, k))) for k in keys]
        elif lender == "liquity-v1" and chain in self.book.liquity:
            troves = await self.read.liquity(state, now_head.number, [address])
            refs = [(None, troves.get(address))]
        elif lender == "liquity-v2" and chain in self.book.liquity2:
            refs = await self._troves(state, now_head, address, market)
        elif lender == "maker" and chain in self.book.maker:
            cdps = [int(market)] if market else await self.read.vaults_of(state, address, now_head.number)
            got_vaults = await self.read.maker(state, now_head, {(address, str(c)): None for c in cdps})
            refs = [(str(c), got_vaults.get((address, str(c)))) for c in cdps]
        elif lender == "morpho" and chain in self.book.morpho:
            ids = [market] if market else [i for i, _ in self.book.morpho[chain].markets]
            read = await self.read.morpho(state, now_head.number, [(address, i) for i in ids])
            refs = [(i, read.get((address, i))) for i in ids]
        else:
            return []
        found = []
        for ref, account in refs:
            if isinstance(account, Account) and not account.empty:
                vault = self.read.vaults.get((chain, int(ref))) if lender == "maker" and ref else None
                name = vault.ilk_name if vault else liquity2_.parse_ref(ref)[0] if lender == "liquity-v2" and ref else None
                found.append(Found(chain, lender, account, now_head, ref, name))
            elif isinstance(account, str) and (market or lender != "morpho"):
                failed.append(f"{state.name} ({account})")
        return found

    async def _troves(self, state: ChainState, now_head: Head, address: str,
                      trove: str | None) -> list[tuple[str | None, Account | str | None]]:
        """Liquity v2: the owner's troves, or the one named (on whichever branch holds it, if its NFT is theirs)."""
        block = now_head.number
        if trove is None:
            refs = await self.read.troves_of(state, address, block)
        else:
            refs, elsewhere = [], []
            for b in self.book.liquity2[state.key].branches:
                ref = liquity2_.ref_of(b.symbol, int(trove))
                holder = await self.read.owner_of(state, ref, block)
                if holder == address.lower():
                    refs.append(ref)
                elif holder is not None:
                    elsewhere.append(b.symbol)
            if elsewhere and not refs:  # the NFT decides whose a trove is: following someone else's is not /track's job
                raise UsageError(f"The {' and '.join(elsewhere)} trove {_short_id(trove)} is held by another address; "
                                 "/track the address that holds its NFT.")
        read = await self.read.liquity2(state, block, {r: None for r in refs}) if refs else {}
        return [(r, read.get(r)) for r in refs]

    # ---------------------------------------------------------------- every tick

    async def tick(self) -> int:
        """Read every followed account, chain by chain and lender by lender; returns how many readings were stored."""
        groups: dict[tuple[str, str], list[ChainLink]] = {}
        for link in self.store.chain_links():
            groups.setdefault((link.chain, link.lender), []).append(link)
        saved = 0
        heads: dict[str, Head] = {}
        for (chain, lender), group in groups.items():
            state = self.chains.get(chain)
            if state is None:
                self._pause(chain, group, "no RPC URL is configured for it")
                continue
            if state.refused:
                self._pause(chain, group, state.refused)
                continue
            try:
                if chain not in heads:  # every lender of a chain is read at the same block
                    heads[chain] = await self._head(state)
                now_head = heads[chain]
                # Bounded: a chain that answers slowly must not hold up the warnings of every other position.
                accounts = await asyncio.wait_for(self._read_group(state, now_head, lender, group), self.budget)
                saved += self._save(state, now_head, group, accounts)
            except TimeoutError:
                state.error = f"{state.name} RPC: no complete answer within {self.budget:.0f}s"
                self._pause(chain, group, state.error)
                log.warning("chain %s not read: %s", chain, state.error)
            except (RpcError, BadReturn, CallReverted) as err:
                state.error = err.message
                self._pause(chain, group, err.message)
                log.warning("chain %s not read: %s", chain, err.message)
        for chain, now_head in heads.items():
            links = [x for (c, _), group in groups.items() if c == chain for x in group]
            try:
                await self.logs.scan(self.chains[chain], now_head, links)
            except (RpcError, BadReturn) as err:  # tried again next tick, from the same block
                log.warning("chain %s: liquidation logs not read: %s", chain, err.message)
        return saved

    async def _read_group(self, state: ChainState, now_head: Head, lender: str,
                          group: list[ChainLink]) -> dict[int, Account | str | None]:
        """One lender's followed accounts on one chain, by position id."""
        if lender == "morpho":
            read = await self.read.morpho(state, now_head.number, [(x.address, x.market_ref or "") for x in group])
            return {x.position_id: read.get((x.address, x.market_ref or "")) for x in group}
        if lender == "liquity-v1":
            troves = await self.read.liquity(state, now_head.number, [x.address for x in group])
            return {x.position_id: troves.get(x.address) for x in group}
        if lender == "liquity-v2":
            self._lines = self.store.redemption_lines([x.position_id for x in group])
            lines: dict[str, float | None] = {x.market_ref or "": self._lines.get(x.position_id, liquity2_.REDEMPTION_LINE)
                                              for x in group}
            troves = await self.read.liquity2(state, now_head.number, lines)
            return {x.position_id: troves.get(x.market_ref or "") for x in group}
        if lender == "maker":
            vaults = await self.read.maker(state, now_head, {(x.address, x.market_ref or ""): x.number for x in group})
            coming, self.read.coming = self.read.coming, []
            self._maker_heads_up(state, coming)
            return {x.position_id: vaults.get((x.address, x.market_ref or "")) for x in group}
        if lender == "compound-v3":
            got = await self.read.compound(state, now_head.number,
                                            {(x.address, x.market_ref or ""): x.reading.get("used") for x in group})
            return {x.position_id: got.get((x.address, x.market_ref or "")) for x in group}
        wanted = {x.address: x.reading.get("used") for x in group}
        emodes = {1} | {int(x.reading.get("emode", 0)) for x in group} - {0}
        by_address = await self.read.aave(state, now_head.number, wanted, emodes)
        return {x.position_id: by_address.get(x.address) for x in group}

    def _save(self, state: ChainState, now_head: Head, links: list[ChainLink],
              accounts: dict[int, Account | str | None]) -> int:
        now = self.clock.time()
        updates = []
        for link in links:
            account = accounts.get(link.position_id)
            marker = marker_symbol(link.number, link.lender, state.name)
            if isinstance(account, Account):
                reading = {**reading_of(account, now_head, state.name), "marker": marker}
                if link.lender == "liquity-v1":  # a redemption's log says only what is left: keep what was, by block
                    entry = [now_head.number, str(account.collateral.get("ETH", 0)), str(account.debt.get("LUSD", 0))]
                    reading["history"] = (link.reading.get("history", []) + [entry])[-HISTORY:]
                if link.lender == "liquity-v2":
                    reading["warned"] = self._redemption_watch(state, now_head, link, account)
                updates.append((replace(link, reading=reading, read_at=now), *legs_of(account)))
                for symbol, price in account.prices.items():
                    key = oracle_symbol(symbol, link.lender, state.name)
                    self._quotes[key] = Quote(key, price, f"{LENDERS[link.lender]} oracle", float(now_head.timestamp))
                    self._bad.pop(key, None)
                self._quotes[marker] = Quote(marker, 1.0, "chain", float(now_head.timestamp))
                self._bad.pop(marker, None)
            else:  # this account's calls failed: its last reading stays, marked, and it warns of nothing
                why = account or "no answer for it"
                log.info("chain %s: position %s not read: %s", state.key, link.position_id, why)
                updates.append((replace(link, reading={**link.reading, "failed": why, "marker": marker}), (), ()))
                self._bad[marker] = why
        self.store.save_readings(updates)
        for old, (new, _, _) in zip(links, updates, strict=True):
            # The monitor keeps each position's weights: it reloads the ones whose amounts or thresholds moved
            # (a repay, interest, a liquidation, recovery mode), and none whose read failed.
            if self.events is not None and not new.reading.get("failed") and _changed(old.reading, new.reading):
                self.events.position_changed(new.position_id)
        state.read_at, state.error = now, ""
        return len(updates)

    def _pause(self, chain: str, links: list[ChainLink], why: str) -> None:
        """A failed read: the oracle prices of that chain stop being trusted, so no warning comes from it."""
        name = self.book.chains[chain].name if chain in self.book.chains else chain
        for link in links:
            for symbol in link.reading.get("prices", {}):
                self._bad[oracle_symbol(symbol, link.lender, name)] = why

    # ---------------------------------------------------------------- reads

    async def _head(self, state: ChainState) -> Head:
        """The block to pin this tick to; a head that goes backwards or stands still too long is stale."""
        now = self.clock.time()
        new = await head(state.client)
        old = state.head
        if old is not None and new.number < old.number:
            raise RpcError(f"{state.name} RPC is stale: block {new.number} after {old.number}", "stale")
        if old is None or new.number > old.number:
            state.head, state.head_seen_at = new, now
        elif state.head_seen_at is not None and now - state.head_seen_at > STALE_AFTER:
            raise RpcError(f"{state.name} RPC is stale: no new block since {now - state.head_seen_at:.0f}s", "stale")
        return new

    def _redemption_watch(self, state: ChainState, now_head: Head, link: ChainLink, account: Account) -> bool:
        """Whether the trove is under its owner's redemption line now; a crossing either way stores one notice."""
        system = dict(account.system)
        was = bool(link.reading.get("warned"))
        line = self._lines.get(link.position_id, liquity2_.REDEMPTION_LINE)
        if not system.get("branch_debt") or system.get("zombie"):
            return was
        share = system["front"] / system["branch_debt"]
        now = share < line if not was else share < line * liquity2_.REDEMPTION_CLEAR
        if now != was:
            event = "redemption-risk" if now else "redemption-clear"
            detail = {"lender": "liquity-v2", "chain_name": state.name, "event": event,
                      "share": share, "line": line, "front": system["front"], "branch_debt": system["branch_debt"],
                      "branch": liquity2_.parse_ref(link.market_ref or ":0")[0], "rate": system.get("rate", 0.0),
                      "debt": float(sum(account.debt.values())), "safer_rate": system.get("safer_rate"),
                      "safer_share": system.get("safer_share"), "safer_fee": system.get("safer_fee")}
            self.store.record_notices(state.key, [(f"redemption:{link.position_id}:{now_head.number}", 0, link.position_id,
                                                   now_head.number, event, json.dumps(detail))])
        return now

    def _maker_heads_up(self, state: ChainState, coming: list) -> None:
        """Store one "liquidatable at the OSM's next price" row per vault and OSM round (told once by the monitor)."""
        rows = []
        for vault, osm, later, mat in coming:
            for link in self.store.chain_links("lender = 'maker' AND market_ref = ? AND chain = ?", [str(vault.cdp), state.key]):
                detail = {"lender": "maker", "chain_name": state.name, "at": osm.at, "price": osm.upcoming,
                          "ratio": later, "mat": mat, "vault": vault.cdp}
                rows.append((f"osm:{vault.ilk_name}:{osm.at}", 0, link.position_id, 0, "next-price", json.dumps(detail)))
        if rows:
            self.store.record_notices(state.key, rows)

    # ---------------------------------------------------------------- what the monitor and /status read

    def quotes(self, symbols: Iterable[str]) -> PriceSnapshot:
        """The lenders' oracle prices as last read; untrusted while that chain's reads fail."""
        snap = PriceSnapshot()
        for s in symbols:
            quote = self._quotes.get(s)
            if quote is None:
                snap.missing[s] = self._bad.get(s, "not read from the chain yet")
            elif s in self._bad:
                snap.quotes[s] = replace(quote, trusted=False, note=self._bad[s])
            else:
                snap.quotes[s] = quote
        return snap

    def status_lines(self) -> list[tuple[str, str]]:
        """(chain, one line) for /status: URL in use (masked), block, its age by block time, the last error."""
        lines = []
        now = self.clock.time()
        for state in self.chains.values():
            if state.refused:
                lines.append((state.name, f"refused: {state.refused}"))
                continue
            where = state.client.url_in_use
            if state.head is None:
                text = f"{where}, not read yet" + (f" ({state.error})" if state.error else "")
            else:
                age = max(0.0, now - state.head.timestamp)
                text = f"{where}, block {state.head.number:,} ({age:.0f}s old by block time)"
                if state.error:
                    text += f"; last error: {state.error}"
            lines.append((state.name, text))
        return lines


def reading_of(account: Account, at: Head, chain_name: str) -> dict:
    """What is stored of one read (the lender's own numbers), JSON-ready."""
    return {"chain_name": chain_name, "block": at.number, "block_time": at.timestamp, "hf": account.hf, "collateral_usd": account.collateral_usd,
            "debt_usd": account.debt_usd, "emode": account.emode, "terms": account.terms, "prices": account.prices,
            "unlisted": list(account.unlisted), "system": dict(account.system),
            "amounts": {"collateral": {k: str(v) for k, v in account.collateral.items()},
                        "debt": {k: str(v) for k, v in account.debt.items()}}, "used": sorted(set(account.collateral) | set(account.debt)),
            "empty": account.empty}


def _changed(old: dict, new: dict) -> bool:
    """Whether a reading moved what the monitor weighs: amounts, thresholds, or which assets."""
    return any(old.get(k) != new.get(k) for k in ("amounts", "terms", "marker")) or bool(old.get("failed"))


def legs_of(account: Account) -> tuple[tuple[Leg, ...], tuple[Leg, ...]]:
    return (tuple(Leg(s, _tidy(a)) for s, a in account.collateral.items()),
            tuple(Leg(s, _tidy(a)) for s, a in account.debt.items()))


def _short_id(trove: str) -> str:
    return trove if len(trove) <= 12 else f"{trove[:6]}…{trove[-4:]}"


def _tidy(amount: Decimal) -> Decimal:
    return amount.normalize() if amount == amount.to_integral() else amount


async def _no_price(symbol: str) -> float | None:
    return None
