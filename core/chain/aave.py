"""Aave v3 read from its own contracts: the account's health factor, balances with accrued interest,
per-asset thresholds (e-mode applied) and the market's oracle prices, all at one block."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from core.chain.abi import BadReturn, calldata, decode_as
from core.chain.account import Account
from core.chain.addresses import AaveDeployment
from core.chain.multicall import Call, Result

MAX_UINT = 2**256 - 1
_RESERVE_CONFIG = ["uint256", "uint256", "uint256", "uint256", "uint256", "bool", "bool", "bool", "bool", "bool"]
_USER_RESERVE = ["uint256", "uint256", "uint256", "uint256", "uint256", "uint256", "uint256", "uint40", "bool"]


@dataclass
class AaveContracts:
    """What the PoolAddressesProvider points at, and what the pool lists (refreshed every tick)."""

    pool: str
    oracle: str
    data_provider: str
    reserves: list[str] = field(default_factory=list)  # the pool's reserve list (token addresses, in index order)


@dataclass(frozen=True)
class AssetRead:
    """One reserve as the market sees it now."""

    symbol: str
    decimals: int
    price: float  # the oracle's, in USD
    ltv: float
    lt: float
    penalty: float  # the liquidation bonus, as a fraction
    emode: int  # the reserve's e-mode category (0: none)


def provider_calls(book: AaveDeployment) -> list[Call]:
    """Ask the provider where the pool, oracle and data provider are."""
    return [Call(book.provider, calldata(f"{name}()")) for name in ("getPool", "getPriceOracle", "getPoolDataProvider")]


def reserves_call(c: AaveContracts) -> Call:
    return Call(c.pool, calldata("getReservesList()"))


def parse_reserves(c: AaveContracts, result: Result) -> None:
    if not result.ok:
        raise BadReturn("the pool did not list its reserves")
    (on_chain,) = decode_as(["address[]"], result.data)
    c.reserves = [str(a) for a in on_chain]


def parse_provider(results: list[Result]) -> AaveContracts:
    if not all(r.ok for r in results):
        raise BadReturn("the PoolAddressesProvider did not answer")
    pool, oracle, dp = (decode_as(["address"], r.data)[0] for r in results)
    return AaveContracts(pool, oracle, dp)


def market_calls(c: AaveContracts, book: AaveDeployment, emodes: set[int]) -> list[Call]:
    """Views shared by every account of the market: the reserve list, prices, configurations, e-mode categories."""
    names = listed(c, book)
    calls = [reserves_call(c),
             Call(c.oracle, calldata("getAssetsPrices(address[])", [book.reserves[s][0] for s in names]))]
    for s in names:
        token = book.reserves[s][0]
        calls.append(Call(c.data_provider, calldata("getReserveConfigurationData(address)", token)))
        calls.append(Call(c.data_provider, calldata("getReserveEModeCategory(address)", token)))
    calls += [Call(c.pool, calldata("getEModeCategoryData(uint8)", e)) for e in sorted(emodes)]
    return calls


def parse_market(c: AaveContracts, book: AaveDeployment, emodes: set[int],
                 results: list[Result]) -> tuple[dict[str, AssetRead], dict[int, tuple[float, float, float]]]:
    """The listed reserves with their price and terms, and each e-mode category's (ltv, lt, penalty)."""
    names = listed(c, book)
    if not results[0].ok or not results[1].ok:
        raise BadReturn("the pool or the oracle did not answer")
    parse_reserves(c, results[0])
    (prices,) = decode_as(["uint256[]"], results[1].data)
    if len(prices) != len(names):
        raise BadReturn("the oracle answered the wrong number of prices")
    assets: dict[str, AssetRead] = {}
    for i, s in enumerate(names):
        cfg, cat = results[2 + 2 * i], results[3 + 2 * i]
        if not cfg.ok or not cat.ok:
            raise BadReturn(f"the data provider did not answer for {s}")
        decimals, ltv, lt, bonus = decode_as(_RESERVE_CONFIG, cfg.data)[:4]
        (category,) = decode_as(["uint256"], cat.data)
        assets[s] = AssetRead(s, int(decimals), prices[i] / 1e8, ltv / 1e4, lt / 1e4, max(0.0, bonus / 1e4 - 1), int(category))
    categories = {}
    for e, r in zip(sorted(emodes), results[2 + 2 * len(names) :], strict=True):
        if r.ok:
            ltv, lt, bonus, _, _ = decode_as(["(uint16,uint16,uint16,address,string)"], r.data)[0]
            categories[e] = (ltv / 1e4, lt / 1e4, max(0.0, bonus / 1e4 - 1))
    return assets, categories


def account_calls(c: AaveContracts, book: AaveDeployment, user: str, reserves: list[str] | None) -> list[Call]:
    """Views for one wallet: account data, e-mode, the used-reserves bitmap, and balances of `reserves` (None: all)."""
    calls = [Call(c.pool, calldata("getUserAccountData(address)", user)),
             Call(c.pool, calldata("getUserEMode(address)", user)),
             Call(c.pool, calldata("getUserConfiguration(address)", user))]
    for s in listed(c, book) if reserves is None else reserves:
        calls.append(Call(c.data_provider, calldata("getUserReserveData(address,address)", book.reserves[s][0], user)))
    return calls


def used_reserves(c: AaveContracts, book: AaveDeployment, results: list[Result]) -> tuple[list[str], tuple[str, ...]]:
    """From an account's first three answers: the listed reserves it uses, and the used ones the book does not name."""
    if not results[2].ok:
        raise BadReturn("getUserConfiguration reverted")
    ((bitmap,),) = decode_as(["(uint256)"], results[2].data)
    used: list[str] = []
    unlisted: list[str] = []
    for i, token in enumerate(c.reserves):
        if (bitmap >> (2 * i)) & 3:
            symbol = book.symbol_of(token)
            (used if symbol else unlisted).append(symbol or token)
    return used, tuple(unlisted)


def parse_account(book: AaveDeployment, reserves: list[str], results: list[Result], assets: dict[str, AssetRead],
                  categories: dict[int, tuple[float, float, float]], unlisted: tuple[str, ...]) -> Account:
    """One wallet's reading from its answers (in account_calls' order)."""
    if not results[0].ok or not results[1].ok:
        raise BadReturn("getUserAccountData reverted")
    coll_base, debt_base, _, _, _, hf = decode_as(["uint256"] * 6, results[0].data)
    (emode,) = decode_as(["uint256"], results[1].data)
    collateral: dict[str, Decimal] = {}
    debt: dict[str, Decimal] = {}
    terms: dict[str, tuple[float, float, float]] = {}
    for s, r in zip(reserves, results[3:], strict=True):
        if not r.ok:
            raise BadReturn(f"getUserReserveData reverted for {s}")
        a_balance, stable, variable, *_, as_collateral = decode_as(_USER_RESERVE, r.data)
        scale = Decimal(10) ** book.reserves[s][1]
        asset = assets.get(s)
        if asset is None:
            continue  # listed in the book but not by this pool
        if a_balance and as_collateral and asset.lt > 0:
            collateral[s] = Decimal(a_balance) / scale
        if stable + variable:
            debt[s] = Decimal(stable + variable) / scale
        in_emode = emode and asset.emode == emode and emode in categories
        terms[s] = categories[emode] if in_emode else (asset.ltv, asset.lt, asset.penalty)
    prices = {s: assets[s].price for s in set(collateral) | set(debt)}
    return Account(None if hf == MAX_UINT or not debt_base else hf / 1e18, coll_base / 1e8, debt_base / 1e8, int(emode),
                       collateral, debt, terms, prices, unlisted)


def listed(c: AaveContracts, book: AaveDeployment) -> list[str]:
    """The book's reserves that this pool lists (all of them until the pool's list is known)."""
    if not c.reserves:
        return []
    on_chain = {a.lower() for a in c.reserves}
    return [s for s, (a, _) in book.reserves.items() if a.lower() in on_chain]

