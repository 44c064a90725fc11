"""Each lender's reads at one block: the calls, in as few aggregate3 requests as chunking allows, and their answers
decoded into Accounts. What never changes between ticks (contract addresses, market parameters, vault handles) is
asked once and kept."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from core.chain import aave as aave_
from core.chain import compound as compound_
from core.chain import liquity as liquity_
from core.chain import liquity2 as liquity2_
from core.chain import maker as maker_
from core.chain import morpho as morpho_
from core.chain.abi import BadReturn, decode_as
from core.chain.account import Account
from core.chain.addresses import AaveDeployment, AddressBook, LiquityBranch, LiquityV2Deployment
from core.chain.multicall import Head, Result, aggregate
from core.chain.rpc import RpcClient

ACCOUNTS_PER_REQUEST = 100
MAX_VAULTS = 20  # the most of one owner's Maker vaults /track follows
MAX_TROVES = 20_000  # the most troves of one Liquity v2 branch looked through for an owner's


@dataclass
class ChainState:
    """What /status says of one chain."""

    key: str
    name: str
    client: RpcClient
    head: Head | None = None
    head_seen_at: float | None = None  # when the head last moved, by our clock
    read_at: float | None = None
    error: str = ""
    refused: str = ""  # set at start when the chain is unusable (wrong chain id): never read


class Readers:
    """The lenders' readers for every chain, with what they keep between ticks."""

    def __init__(self, book: AddressBook, usd: Callable[[str], Awaitable[float | None]]):
        self.book = book
        self.usd = usd  # market prices, for what a Morpho oracle quotes in its loan token
        self.contracts: dict[str, aave_.AaveContracts] = {}
        self.morpho_markets: dict[tuple[str, str], morpho_.MorphoMarket | None] = {}
        self.comets: dict[tuple[str, str], compound_.CometContracts] = {}
        self.vaults: dict[tuple[str, int], maker_.Vault] = {}
        self.liquity_feeds: dict[str, str] = {}
        self.branch_constants: dict[tuple[str, str], liquity2_.Constants] = {}
        self.pages = (liquity2_.PAGE, liquity2_.MAX_PAGES)  # how a Liquity v2 branch's sorted list is walked
        self.coming: list[tuple[Any, ...]] = []  # Maker vaults the OSM's next price would make unsafe, for the tracker

    async def aave_contracts(self, state: ChainState, book: AaveDeployment, block: int) -> aave_.AaveContracts:
        contracts = self.contracts.get(state.key)
        if contracts is None:
            try:
                contracts = aave_.parse_provider(await aggregate(state.client, aave_.provider_calls(book), block))
                aave_.parse_reserves(contracts, (await aggregate(state.client, [aave_.reserves_call(contracts)], block))[0])
            except BadReturn as err:
                raise BadReturn(f"Aave v3's PoolAddressesProvider at {book.provider} on {state.name} does not answer "
                                f"({err.message}): check the address book") from err
            self.contracts[state.key] = contracts
        return contracts

    async def aave(self, state: ChainState, block: int, wanted: dict[str, list[str] | None],
                         emodes: set[int]) -> dict[str, Account | str]:
        """Every wanted Aave account at `block`: market views first, then accounts, in as few requests as chunking allows."""
        book = self.book.aave[state.key]
        c = await self.aave_contracts(state, book, block)
        market = aave_.market_calls(c, book, emodes)
        plans = dict(wanted)
        answers = await self.batched(state, market, block,
                                            {u: aave_.account_calls(c, book, u, used) for u, used in plans.items()})
        assets, categories = aave_.parse_market(c, book, emodes, answers.pop(""))
        out: dict[str, Account | str] = {}
        retry: dict[str, list[str] | None] = {}
        for user, results in answers.items():
            try:
                used, unlisted = aave_.used_reserves(c, book, results)
                asked = plans[user]
                read = aave_.listed(c, book) if asked is None else asked
                if not set(used) <= set(read):  # it started using a reserve since the last tick: ask again for it
                    retry[user] = used
                    continue
                out[user] = aave_.parse_account(book, read, results, assets, categories, unlisted)
            except BadReturn as err:
                out[user] = err.message
        if retry:
            again = await self.batched(state, [], block,
                                              {u: aave_.account_calls(c, book, u, used) for u, used in retry.items()})
            again.pop("", None)
            for user, results in again.items():
                try:
                    used, unlisted = aave_.used_reserves(c, book, results)
                    out[user] = aave_.parse_account(book, retry[user] or [], results, assets, categories, unlisted)
                except BadReturn as err:
                    out[user] = err.message
        return out

    async def morpho(self, state: ChainState, block: int,
                           wanted: list[tuple[str, str]]) -> dict[tuple[str, str], Account | str]:
        """Every (wallet, market id) at `block`: each market's interest accrued, its totals and oracle, then the positions."""
        dep = self.book.morpho[state.key]
        unknown = sorted({i for _, i in wanted if (state.key, i) not in self.morpho_markets})
        if unknown:
            results = await aggregate(state.client, [morpho_.params_call(dep.address, i) for i in unknown], block)
            for i, r in zip(unknown, results, strict=True):
                self.morpho_markets[(state.key, i)] = morpho_.parse_params(i, r)
        out: dict[tuple[str, str], Account | str] = {}
        markets = []
        for i in sorted({i for _, i in wanted}):
            m = self.morpho_markets.get((state.key, i))
            if m is None:
                out.update({(a, j): f"no Morpho Blue market has the id {i[:10]}…" for a, j in wanted if j == i})
            elif m.loan.lower() not in dep.tokens or m.collateral.lower() not in dep.tokens:
                out.update({(a, j): "that market's tokens are not in the address book" for a, j in wanted if j == i})
            else:
                markets.append(m)
        asked = [(a, i) for a, i in wanted if any(m.id == i for m in markets)]
        calls = morpho_.market_calls(dep.address, markets)
        for start in range(0, max(len(asked), 1), ACCOUNTS_PER_REQUEST * 4):  # one view per account: more per request
            chunk = asked[start : start + ACCOUNTS_PER_REQUEST * 4]
            part = (calls if start == 0 else []) + [morpho_.position_call(dep.address, i, a) for a, i in chunk]
            if not part:
                continue
            results = await aggregate(state.client, part, block, per_request=len(part))
            if start == 0:
                states, results = morpho_.parse_markets(markets, results[: len(calls)]), results[len(calls) :]
            by_id = {m.id: m for m in markets}
            for (address, i), result in zip(chunk, results, strict=True):
                market_state = states[i]
                if isinstance(market_state, str):
                    out[(address, i)] = market_state
                    continue
                loan_symbol = dep.tokens[by_id[i].loan.lower()][0]
                loan_usd = await self.usd(loan_symbol)
                if loan_usd is None:
                    out[(address, i)] = f"no market price for {loan_symbol}, the market's loan token"
                    continue
                try:
                    out[(address, i)] = morpho_.parse_account(by_id[i], market_state, result, dep.tokens, loan_usd)
                except BadReturn as err:
                    out[(address, i)] = err.message
        return out

    async def liquity(self, state: ChainState, block: int, owners: list[str]) -> dict[str, Account | str]:
        """Every owner's trove at `block`, with Liquity's own price and its system ratio (recovery mode)."""
        manager = self.book.liquity[state.key]
        feed = self.liquity_feeds.get(state.key)
        if feed is None:
            (answer,) = await aggregate(state.client, [liquity_.feed_call(manager)], block)
            if not answer.ok:
                raise BadReturn(f"Liquity's TroveManager at {manager} on {state.name} does not answer: check the address book")
            feed = self.liquity_feeds[state.key] = str(decode_as(["address"], answer.data)[0])
        system = liquity_.system_calls(manager, feed)
        answers = await self.batched(state, system, block, {o: liquity_.trove_calls(manager, o) for o in owners})
        price, tcr = liquity_.parse_system(answers.pop(""))
        out: dict[str, Account | str] = {}
        for owner, results in answers.items():
            try:
                out[owner] = liquity_.parse_trove(results, price, tcr)
            except BadReturn as err:
                out[owner] = err.message
        return out

    async def troves_of(self, state: ChainState, owner: str, block: int) -> list[str]:
        """An owner's Liquity v2 troves ("WETH:id"), found among each branch's troves by their NFT's current owner.

        Looking through the branch's list (one aggregate per 500 troves) finds troves bought or received as well as
        opened, and needs no eth_getLogs over the two years since launch, which public providers cap."""
        dep = self.book.liquity2[state.key]
        counts = await aggregate(state.client, [liquity2_.census_calls(b) for b in dep.branches], block)
        ids = [(b, i) for b, r in zip(dep.branches, counts, strict=True) for i in range(min(liquity2_.parse_uint(r), MAX_TROVES))]
        troves = [liquity2_.parse_uint(r) for r in await aggregate(state.client, [liquity2_.id_call(b, i) for b, i in ids], block)]
        owners = await aggregate(state.client, [liquity2_.owner_call(b, t) for (b, _), t in zip(ids, troves, strict=True)], block)
        return [liquity2_.ref_of(b.symbol, t) for (b, _), t, r in zip(ids, troves, owners, strict=True)
                if liquity2_.parse_owner(r) == owner.lower()]

    async def owner_of(self, state: ChainState, ref: str, block: int) -> str | None:
        """Who holds a trove's NFT now (None: the trove is closed or was never opened)."""
        symbol, trove = liquity2_.parse_ref(ref)
        b = self.book.liquity2[state.key].branch(symbol)
        if b is None:
            return None
        (answer,) = await aggregate(state.client, [liquity2_.owner_call(b, trove)], block)
        return liquity2_.parse_owner(answer)

    async def liquity2(self, state: ChainState, block: int,
                             wanted: dict[str, float | None]) -> dict[str, Account | str]:
        """Every trove ("WETH:id" -> its owner's redemption line, a share of the branch's debt) at `block`: each
        branch's price, totals and troves, then one walk of its sorted list for the debt in front of each; a trove
        under its line also gets the rate that would clear it twice over and what changing to it costs now."""
        dep = self.book.liquity2[state.key]
        by_branch: dict[str, list[str]] = {}
        out: dict[str, Account | str] = {}
        for ref in wanted:
            symbol, _ = liquity2_.parse_ref(ref)
            if dep.branch(symbol) is None:
                out[ref] = f"no Liquity v2 {symbol} branch on {state.name}"
            else:
                by_branch.setdefault(symbol, []).append(ref)
        for symbol, refs in by_branch.items():
            b = dep.branch(symbol)
            assert b is not None
            key = (state.key, symbol)
            if key not in self.branch_constants:
                try:
                    self.branch_constants[key] = liquity2_.parse_constants(
                        await aggregate(state.client, liquity2_.constants_calls(b), block))
                except BadReturn as err:
                    raise BadReturn(f"Liquity v2's {symbol} branch on {state.name} does not answer ({err.message}): "
                                    "check the address book") from err
            answers = await self.batched(state, liquity2_.branch_calls(b), block,
                                         {r: liquity2_.trove_calls(b, liquity2_.parse_ref(r)[1]) for r in refs})
            branch = liquity2_.parse_branch(answers.pop(""))
            active = {liquity2_.parse_ref(r)[1] for r, res in answers.items() if _is_active(res)}
            fronts, walked = await self._fronts(state, dep, b, active, block)
            for ref, results in answers.items():
                trove = liquity2_.parse_ref(ref)[1]
                try:
                    account = liquity2_.parse_trove(b, self.branch_constants[key], branch, results,
                                                    fronts.get(trove, walked if trove in active else None),
                                                    trove in active and trove not in fronts)
                    out[ref] = await self._safer(state, dep, b, ref, account, wanted[ref], block)
                except BadReturn as err:
                    out[ref] = err.message
        return out

    async def _fronts(self, state: ChainState, dep: LiquityV2Deployment, b: LiquityBranch, troves: set[int],
                      block: int) -> tuple[dict[int, Decimal], Decimal]:
        """The debt before each of `troves` in redemption order, from a walk up from the lowest rate that stops once
        it has passed them all (or after the most pages); and the debt walked, a floor for those not reached."""
        fronts: dict[int, Decimal] = {}
        walked = Decimal(0)
        size, most = self.pages
        for page in range(most if troves else 0):
            (answer,) = await aggregate(state.client, [liquity2_.page_call(dep, b, page, size)], block)
            rows = liquity2_.parse_page(answer)
            for trove, debt in rows:
                if trove in troves:
                    fronts[trove] = walked
                walked += debt
            if len(fronts) == len(troves) or len(rows) < size:
                break
        return fronts, walked

    async def _safer(self, state: ChainState, dep: LiquityV2Deployment, b: LiquityBranch, ref: str, account: Account,
                     line: float | None, block: int) -> Account:
        """The account, with the rate that would put twice the owner's line in front (or halfway from the line to
        all of the branch, for a line above a third) when it is under the line."""
        system = dict(account.system)
        if line is None or not system.get("branch_debt") or system["front"] >= line * system["branch_debt"]:
            return account
        trove = liquity2_.parse_ref(ref)[1]
        target = min(2 * line, (1 + line) / 2)
        (walk,) = await aggregate(state.client, [liquity2_.walk_call(dep, b, trove)], block)
        rate = liquity2_.safer_rate(walk, trove, system["front"], target * system["branch_debt"])
        extra: tuple[tuple[str, float], ...] = (("safer_rate", rate if rate is not None else -1.0),
                                                ("safer_share", target))
        if rate is not None:
            (fee,) = await aggregate(state.client, [liquity2_.fee_call(dep, b, trove, rate)], block)
            extra += (("safer_fee", liquity2_.parse_fee(fee)),)
        return replace(account, system=account.system + extra)

    async def vaults_of(self, state: ChainState, owner: str, block: int) -> list[int]:
        """An owner's vault ids, walking the CDP manager's list from its first (at most MAX_VAULTS)."""
        dep = self.book.maker[state.key]
        first, _ = await aggregate(state.client, maker_.vault_list_calls(dep.cdp_manager, owner), block)
        if not first.ok:
            raise BadReturn("the CDP manager did not answer first()")
        cdp = int(decode_as(["uint256"], first.data)[0])
        found: list[int] = []
        while cdp and len(found) < MAX_VAULTS:
            found.append(cdp)
            vault, cdp = maker_.parse_vault(cdp, await aggregate(state.client, maker_.vault_calls(dep.cdp_manager, cdp), block))
            self.vaults[(state.key, vault.cdp)] = vault
        return found

    async def maker(self, state: ChainState, now_head: Head,
                          wanted: dict[tuple[str, str], int | None]) -> dict[tuple[str, str], Account | str]:
        """Every (owner, vault id) at the head: the vault, its ilk, the OSM's current and next price; and, for a vault the
        next price would make unsafe, a heads-up row (key: the OSM's round) for the monitor to tell once."""
        dep = self.book.maker[state.key]
        block = now_head.number
        unknown = [int(c) for _, c in wanted if (state.key, int(c)) not in self.vaults]
        for cdp in unknown:
            vault, _ = maker_.parse_vault(cdp, await aggregate(state.client, maker_.vault_calls(dep.cdp_manager, cdp), block))
            self.vaults[(state.key, cdp)] = vault
        vaults = {c: self.vaults[(state.key, int(c))] for _, c in wanted}
        ilks = sorted({v.ilk for v in vaults.values()})
        per = len(maker_.ilk_calls(dep, b""))
        calls = [call for ilk in ilks for call in maker_.ilk_calls(dep, ilk)]
        calls += [maker_.urn_call(dep.vat, vaults[c]) for _, c in wanted]
        results = await aggregate(state.client, calls, block)
        states = {ilk: maker_.parse_ilk(results[per * i : per * i + per], now_head.timestamp) for i, ilk in enumerate(ilks)}
        pips = sorted({st.pip for st in states.values()})
        timing = await aggregate(state.client, [c for pip in pips for c in maker_.osm_calls(pip)], block)
        prices = {}
        for i, pip in enumerate(pips):
            cur = await state.client.call("eth_getStorageAt", [pip, hex(maker_.OSM_CUR), hex(block)])
            nxt = await state.client.call("eth_getStorageAt", [pip, hex(maker_.OSM_NXT), hex(block)])
            prices[pip] = maker_.next_price(timing[2 * i : 2 * i + 2], str(cur), str(nxt))
        out: dict[tuple[str, str], Account | str] = {}
        heads_up = []
        for n, (owner, c) in enumerate(wanted):
            vault = vaults[c]
            gem = dep.ilks.get(vault.ilk_name)
            if gem is None:
                out[(owner, c)] = f"the ilk {vault.ilk_name} is not in the address book"
                continue
            ilk = states[vault.ilk]
            osm = prices[ilk.pip]
            try:
                account = maker_.parse_account(vault, ilk, results[per * len(ilks) + n], gem, osm.current)
            except BadReturn as err:
                out[(owner, c)] = err.message
                continue
            out[(owner, c)] = account
            later = maker_.ratio_at(account, gem, osm.upcoming)
            followed = wanted[(owner, c)] is not None  # read for a stored position, not for /track's first look
            if followed and later is not None and later < ilk.mat / maker_.RAY and account.hf is not None and account.hf >= 1:
                heads_up.append((vault, osm, later, ilk.mat / maker_.RAY))
        self.coming += heads_up
        return out

    async def comet(self, state: ChainState, key: str, block: int) -> compound_.CometContracts:
        """A Comet market's base feed and asset count (asked once), then its asset configurations every tick."""
        dep = self.book.comets[state.key][key]
        c = self.comets.get((state.key, key))
        if c is None:
            decimals = next(d for s, d in dep.tokens.values() if s == dep.base)
            c = compound_.CometContracts(dep.comet, dep.base, 10**decimals)
            try:
                compound_.parse_setup(c, await aggregate(state.client, compound_.setup_calls(c), block))
                compound_.parse_infos(c, dep.tokens, await aggregate(state.client, compound_.info_calls(c), block))
            except BadReturn as err:
                raise BadReturn(f"Compound v3's {key.upper()} market at {dep.comet} on {state.name} does not answer "
                                f"({err.message}): check the address book") from err
            self.comets[(state.key, key)] = c
        return c

    async def compound(self, state: ChainState, block: int,
                             wanted: dict[tuple[str, str], list[str] | None]) -> dict[tuple[str, str], Account | str]:
        """Every (wallet, market key) at `block`: configurations and Comet's prices first, then each account."""
        out: dict[tuple[str, str], Account | str] = {}
        for key in sorted({k for _, k in wanted}):
            if key not in self.book.comets.get(state.key, {}):
                out.update({(a, k): f"no Compound v3 {key} market on {state.name}" for a, k in wanted if k == key})
                continue
            try:
                c = await self.comet(state, key, block)
            except BadReturn as err:  # one market misconfigured: its accounts fail, the other markets are read
                out.update({(a, k): err.message for a, k in wanted if k == key})
                continue
            dep = self.book.comets[state.key][key]
            market = compound_.info_calls(c) + compound_.price_calls(c)
            users = [(a, used) for (a, k), used in wanted.items() if k == key]
            plans: dict[str, list[str] | None] = dict(users)
            answers = await self.batched(state, market, block,
                                                {a: compound_.account_calls(c, a, used) for a, used in users})
            head_results = answers.pop("")
            compound_.parse_infos(c, dep.tokens, head_results[: c.count])
            base_price, prices = compound_.parse_prices(c, head_results[c.count :])
            base_decimals = next(d for s, d in dep.tokens.values() if s == dep.base)
            retry: dict[str, list[str]] = {}
            for address, results in answers.items():
                try:
                    used = compound_.used_assets(c, results)
                    read = [a.symbol for a in c.assets] if plans[address] is None else list(plans[address] or [])
                    read = [a.symbol for a in c.assets if a.symbol in read]
                    if not set(used) <= set(read):
                        retry[address] = used
                        continue
                    out[(address, key)] = compound_.parse_account(c, read, results, base_price, prices, base_decimals)
                except BadReturn as err:
                    out[(address, key)] = err.message
            if retry:
                again = await self.batched(state, [], block,
                                                  {a: compound_.account_calls(c, a, used) for a, used in retry.items()})
                again.pop("", None)
                for address, results in again.items():
                    read = [a.symbol for a in c.assets if a.symbol in retry[address]]
                    try:
                        out[(address, key)] = compound_.parse_account(c, read, results, base_price, prices, base_decimals)
                    except BadReturn as err:
                        out[(address, key)] = err.message
        return out

    async def batched(self, state: ChainState, market: list, block: int,
                             per_user: dict[str, list]) -> dict[str, list[Result]]:
        """One aggregate3 per ACCOUNTS_PER_REQUEST accounts (the market's views ride in the first), all at `block`."""
        out: dict[str, list[Result]] = {}
        users = list(per_user)
        for start in range(0, max(len(users), 1), ACCOUNTS_PER_REQUEST):
            calls = list(market) if start == 0 else []
            spans = []
            for user in users[start : start + ACCOUNTS_PER_REQUEST]:
                spans.append((user, len(calls), len(calls) + len(per_user[user])))
                calls += per_user[user]
            if not calls:
                continue
            results = await aggregate(state.client, calls, block, per_request=len(calls))
            if start == 0:
                out[""] = results[: len(market)]
            for user, lo, hi in spans:
                out[user] = results[lo:hi]
        return out


def _is_active(results: list[Result]) -> bool:
    """Whether a trove's status call says active (a failed or malformed one is left to its own parse to report)."""
    try:
        return liquity2_.status_of(results) == liquity2_.ACTIVE
    except BadReturn:
        return False
