"""Liquidations and redemptions of followed positions, from the lenders' own logs: one eth_getLogs per chain per
tick over the blocks deep enough to stay, matched to the followed accounts and described in tokens."""

from __future__ import annotations

import json
from decimal import Decimal

from core.chain import events
from core.chain import liquity2 as liquity2_
from core.chain.abi import BadReturn
from core.chain.addresses import AaveDeployment, AddressBook
from core.chain.multicall import Head
from core.chain.readers import ChainState, Readers
from core.storage.store import ChainLink, Store

MAX_LOG_BLOCKS = 2_000  # one eth_getLogs covers at most this many blocks (public providers cap the range)


class LiquidationLogs:
    """Reads each chain's lender logs once per tick and stores what concerns a followed position, once."""

    def __init__(self, store: Store, book: AddressBook, read: Readers):
        self.store, self.book, self.read = store, book, read

    async def scan(self, state: ChainState, now_head: Head, links: list[ChainLink]) -> None:
        """One eth_getLogs over the blocks deep enough to be final, matched to the followed accounts."""
        through = now_head.number - self.book.chains[state.key].confirmations
        last = self.store.chain_scan(state.key)
        if last is None or through <= last:
            if last is None and through >= 0:
                self.store.record_chain_events(state.key, through, [])  # news starts now, not from genesis
            return
        start, through = last + 1, min(through, last + MAX_LOG_BLOCKS)
        emitters = self._emitters(state.key)
        if not emitters:
            self.store.record_chain_events(state.key, through, [])
            return
        logs = await state.client.call("eth_getLogs", [{"fromBlock": hex(start), "toBlock": hex(through),
                                                         "address": sorted(emitters), "topics": [sorted(events.TOPICS.values())]}])
        if not isinstance(logs, list):
            raise BadReturn("eth_getLogs did not answer a list")
        found = []
        for entry in logs:
            liquidation = events.decode(entry) if isinstance(entry, dict) else None
            if liquidation is None or liquidation.contract not in emitters:
                continue
            for link in links:
                if self._concerns(link, liquidation, emitters[liquidation.contract]):
                    found.append((liquidation.tx, liquidation.log_index, link.position_id, liquidation.block, liquidation.kind,
                                  json.dumps(self._described(state, link, liquidation))))
        self.store.record_chain_events(state.key, through, found)

    def _emitters(self, chain: str) -> dict[str, tuple[str, str | None]]:
        """The lender contracts whose logs are read on a chain: address -> (lender, market key)."""
        out: dict[str, tuple[str, str | None]] = {}
        if chain in self.read.contracts:
            out[self.read.contracts[chain].pool.lower()] = ("aave-v3", None)
        for key, dep in self.book.comets.get(chain, {}).items():
            out[dep.comet.lower()] = ("compound-v3", key)
        if chain in self.book.morpho:
            out[self.book.morpho[chain].address.lower()] = ("morpho", None)
        if chain in self.book.liquity:
            out[self.book.liquity[chain].lower()] = ("liquity-v1", None)
        if chain in self.book.maker:
            out[self.book.maker[chain].dog.lower()] = ("maker", None)
        for b in self.book.liquity2[chain].branches if chain in self.book.liquity2 else ():
            out[b.trove_manager.lower()] = ("liquity-v2", b.symbol)
        return out

    def _concerns(self, link: ChainLink, liquidation: events.Liquidation, emitter: tuple[str, str | None]) -> bool:
        lender, key = emitter
        if link.lender != lender:
            return False
        if lender == "maker":  # the Dog names the vault's urn, not its owner
            vault = self.read.vaults.get((link.chain, int(link.market_ref or 0)))
            return vault is not None and vault.urn.lower() == liquidation.borrower
        if lender == "liquity-v2":  # the log names the trove, by id
            return link.market_ref == liquity2_.ref_of(key or "", int(liquidation.borrower))
        if link.address != liquidation.borrower:
            return False
        if lender == "compound-v3":
            return link.market_ref == key
        if lender == "morpho":
            return (link.market_ref or "").lower() == liquidation.market
        return True

    def _described(self, state: ChainState, link: ChainLink, liquidation: events.Liquidation) -> dict:
        """What was taken and repaid, in tokens, for the notice."""
        def named(token: str, raw: int, side: str) -> list[str]:
            symbol, decimals = self._token(state.key, link, token, side)
            return [symbol, str(events.amount(raw, decimals))]

        if liquidation.kind == "liquity-v1-redeemed":  # the log says what is left; the last reading, what was there
            before = [h for h in link.reading.get("history", []) if h[0] < liquidation.block]
            was_coll, was_debt = (Decimal(before[-1][1]), Decimal(before[-1][2])) if before else (Decimal(0), Decimal(0))
            coll_left, debt_left = (events.amount(raw, 18) for _, raw in (*liquidation.taken, *liquidation.repaid))
            return {"lender": link.lender, "chain_name": state.name, "block": liquidation.block, "tx": liquidation.tx,
                    "verb": "of debt cancelled", "event": "redeemed",
                    "taken": [["ETH", str(max(Decimal(0), was_coll - coll_left))]],
                    "repaid": [["LUSD", str(max(Decimal(0), was_debt - debt_left))]]}
        if liquidation.kind == "liquity-v2-redeemed":
            return {"lender": link.lender, "chain_name": state.name, "block": liquidation.block, "tx": liquidation.tx,
                    "verb": "of debt cancelled", "event": "redeemed",
                    "taken": [named(t, raw, "collateral") for t, raw in liquidation.taken],
                    "repaid": [named(t, raw, "debt") for t, raw in liquidation.repaid]}
        # Comet credits the absorbed collateral's value against the debt, the excess becoming the owner's supply
        verb = {"compound-v3": "credited against the debt",
                "liquity-v2": "of debt cancelled (collateral beyond the debt and penalty can be claimed back from the branch)",
                "maker": "of debt taken over by the auction, which adds the liquidation penalty"}.get(link.lender,
                                                                                                 "of debt repaid")
        return {"lender": link.lender, "chain_name": state.name, "block": liquidation.block, "tx": liquidation.tx, "verb": verb,
                "taken": [named(t, raw, "collateral") for t, raw in liquidation.taken],
                "repaid": [named(t, raw, "debt") for t, raw in liquidation.repaid]}

    def _token(self, chain: str, link: ChainLink, token: str, side: str) -> tuple[str, int]:
        """A token's symbol and decimals; "" stands for the market's own collateral or debt asset."""
        if link.lender == "liquity-v1":
            return ("ETH", 18) if side == "collateral" else ("LUSD", 18)
        if link.lender == "liquity-v2":
            return (liquity2_.parse_ref(link.market_ref or ":0")[0], 18) if side == "collateral" else ("BOLD", 18)
        if link.lender == "maker":
            vault = self.read.vaults.get((chain, int(link.market_ref or 0)))
            gem = self.book.maker[chain].ilks.get(vault.ilk_name, "?") if vault else "?"
            return (gem, 18) if side == "collateral" else ("DAI", 18)
        if link.lender == "morpho":
            m = self.read.morpho_markets.get((chain, link.market_ref or ""))
            if m is not None:
                side_token = m.collateral if side == "collateral" else m.loan
                return self.book.morpho[chain].tokens.get(side_token.lower(), ("?", 18))
        if link.lender == "compound-v3" and not token:
            comet = self.book.comets[chain][link.market_ref or ""]
            return next(((s, d) for s, d in comet.tokens.values() if s == comet.base), ("?", 18))
        tokens = {a.lower(): (s, d) for s, (a, d) in self.book.aave.get(chain, AaveDeployment(chain, "", {})).reserves.items()}
        return tokens.get(token.lower(), (token, 18))
