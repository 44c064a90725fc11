"""Compound v3 (Comet) read from its own contract: the borrow balance with interest, each collateral balance,
the asset configurations and Comet's own prices, and its liquidity test turned into a health factor."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.chain.abi import BadReturn, calldata, decode_as
from core.chain.account import Account
from core.chain.multicall import Call, Result

FACTOR = 10**18  # collateral factors; prices are 8-decimal USD
_ASSET_INFO = ["(uint8,address,address,uint64,uint64,uint64,uint64,uint128)"]


@dataclass(frozen=True)
class CometAsset:
    symbol: str
    token: str
    feed: str
    scale: int
    borrow_cf: int
    liquidate_cf: int
    liquidation_factor: int


@dataclass
class CometContracts:
    """One Comet market: its base asset and price feed, and its collateral assets (read at start, then every tick)."""

    comet: str
    base_symbol: str
    base_scale: int
    base_feed: str = ""
    count: int = 0
    assets: tuple[CometAsset, ...] = ()


def setup_calls(c: CometContracts) -> list[Call]:
    return [Call(c.comet, calldata("baseTokenPriceFeed()")), Call(c.comet, calldata("numAssets()"))]


def parse_setup(c: CometContracts, results: list[Result]) -> None:
    if not all(r.ok for r in results):
        raise BadReturn("Comet did not answer baseTokenPriceFeed or numAssets")
    c.base_feed = decode_as(["address"], results[0].data)[0]
    c.count = int(decode_as(["uint8"], results[1].data)[0])


def info_calls(c: CometContracts) -> list[Call]:
    """The asset configurations (governance may change a factor or a feed: read every tick)."""
    return [Call(c.comet, calldata("getAssetInfo(uint8)", i)) for i in range(c.count)]


def parse_infos(c: CometContracts, tokens: dict[str, tuple[str, int]], results: list[Result]) -> None:
    """Store the assets on `c`."""
    if not all(r.ok for r in results):
        raise BadReturn("Comet did not answer getAssetInfo")
    assets = []
    for r in results:
        (info,) = decode_as(_ASSET_INFO, r.data)
        _, token, feed, scale, bcf, lcf, lf, _ = info
        known = tokens.get(str(token).lower())
        assets.append(CometAsset(known[0] if known else str(token), str(token), str(feed), int(scale), int(bcf), int(lcf),
                                 int(lf)))
    c.assets = tuple(assets)


def price_calls(c: CometContracts) -> list[Call]:
    """Comet's own prices: the base asset's, then each collateral's (feeds as last read)."""
    return [Call(c.comet, calldata("getPrice(address)", feed)) for feed in (c.base_feed, *(a.feed for a in c.assets))]


def parse_prices(c: CometContracts, results: list[Result]) -> tuple[int, dict[str, int]]:
    """(base price, {collateral symbol: price}), 8-decimal USD."""
    if not all(r.ok for r in results):
        raise BadReturn("Comet did not answer getPrice")
    values = [int(decode_as(["uint256"], r.data)[0]) for r in results]
    return values[0], {a.symbol: v for a, v in zip(c.assets, values[1:], strict=True)}


def account_calls(c: CometContracts, user: str, symbols: list[str] | None) -> list[Call]:
    """Borrow balance, the assets-in bitmap, and the balances of `symbols` (None: every asset)."""
    calls = [Call(c.comet, calldata("borrowBalanceOf(address)", user)), Call(c.comet, calldata("userBasic(address)", user))]
    for a in c.assets if symbols is None else [a for a in c.assets if a.symbol in symbols]:
        calls.append(Call(c.comet, calldata("collateralBalanceOf(address,address)", user, a.token)))
    return calls


def used_assets(c: CometContracts, results: list[Result]) -> list[str]:
    """The assets the account holds, from userBasic's assetsIn bitmap (bit i: asset i)."""
    if not results[1].ok:
        raise BadReturn("Comet did not answer userBasic")
    _, _, _, assets_in, _ = decode_as(["int104", "uint64", "uint64", "uint16", "uint8"], results[1].data)
    return [a.symbol for i, a in enumerate(c.assets) if (int(assets_in) >> i) & 1]


def parse_account(c: CometContracts, read: list[str], results: list[Result], base_price: int,
                  prices: dict[str, int], base_decimals: int) -> Account:
    """One wallet, its health factor from the same sums isLiquidatable makes."""
    if not results[0].ok:
        raise BadReturn("Comet did not answer borrowBalanceOf")
    (borrowed,) = decode_as(["uint256"], results[0].data)
    by_symbol = {a.symbol: a for a in c.assets}
    collateral: dict[str, Decimal] = {}
    terms: dict[str, tuple[float, float, float]] = {}
    weighted = 0  # Σ balance × price × liquidate factor, in Comet's 8-decimal USD
    value = 0
    for symbol, r in zip(read, results[2:], strict=True):
        if not r.ok:
            raise BadReturn(f"Comet did not answer collateralBalanceOf for {symbol}")
        (balance,) = decode_as(["uint128"], r.data)
        a = by_symbol[symbol]
        terms[symbol] = (a.borrow_cf / FACTOR, a.liquidate_cf / FACTOR, 1 - a.liquidation_factor / FACTOR)
        if balance:
            usd = int(balance) * prices[symbol] // a.scale
            weighted += usd * a.liquidate_cf // FACTOR
            value += usd
            collateral[symbol] = Decimal(int(balance)) / Decimal(a.scale)
    owed_usd = int(borrowed) * base_price // c.base_scale
    debt = {c.base_symbol: Decimal(int(borrowed)) / Decimal(10) ** base_decimals} if borrowed else {}
    usd_prices = {s: prices[s] / 1e8 for s in collateral} | {c.base_symbol: base_price / 1e8}
    return Account(weighted / owed_usd if owed_usd else None, value / 1e8, owed_usd / 1e8, 0, collateral, debt,
                   {s: t for s, t in terms.items() if s in collateral}, usd_prices)
