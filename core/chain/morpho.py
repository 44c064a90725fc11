"""Morpho Blue read from its own contract: a wallet's collateral and borrow shares in one market, the
market's totals with interest accrued up to the block, and the market's oracle, at one block."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.chain.abi import BadReturn, calldata, decode_as
from core.chain.account import Account
from core.chain.multicall import Call, Result

ORACLE_SCALE = 10**36  # IOracle.price(): loan-token units per collateral-token unit, times 1e36
WAD = 10**18
VIRTUAL_SHARES, VIRTUAL_ASSETS = 10**6, 1  # SharesMathLib's offsets
MAX_INCENTIVE, CURSOR = 1.15, 0.3  # the liquidation incentive factor: min(1.15, 1 / (1 - 0.3 (1 - LLTV)))
_PARAMS = "(address,address,address,address,uint256)"


@dataclass(frozen=True)
class MorphoMarket:
    """A market's immutable parameters, by its id."""

    id: str  # 0x and 64 hex digits
    loan: str
    collateral: str
    oracle: str
    irm: str
    lltv: int  # WAD-scaled

    @property
    def params(self) -> tuple[str, str, str, str, int]:
        return (self.loan, self.collateral, self.oracle, self.irm, self.lltv)


def _id(market_id: str) -> bytes:
    return bytes.fromhex(market_id.removeprefix("0x"))


def params_call(morpho: str, market_id: str) -> Call:
    return Call(morpho, calldata("idToMarketParams(bytes32)", _id(market_id)))


def parse_params(market_id: str, result: Result) -> MorphoMarket | None:
    """The market's parameters; None when no market has that id."""
    if not result.ok:
        raise BadReturn("Morpho did not answer idToMarketParams")
    loan, coll, oracle, irm, lltv = decode_as(["address", "address", "address", "address", "uint256"], result.data)
    if int(loan, 16) == 0:
        return None
    return MorphoMarket(market_id, loan, coll, oracle, irm, int(lltv))


def market_calls(morpho: str, markets: list[MorphoMarket]) -> list[Call]:
    """Per market: accrue interest first (the eth_call changes nothing on chain), then the totals and the oracle."""
    calls = []
    for m in markets:
        calls += [Call(morpho, calldata(f"accrueInterest({_PARAMS})", m.params)),
                  Call(morpho, calldata("market(bytes32)", _id(m.id))),
                  Call(m.oracle, calldata("price()"))]
    return calls


def parse_markets(markets: list[MorphoMarket], results: list[Result]) -> dict[str, tuple[int, int, int] | str]:
    """Per market id: (total borrow assets, total borrow shares, oracle price), or why it could not be read."""
    out: dict[str, tuple[int, int, int] | str] = {}
    for i, m in enumerate(markets):
        _, totals, price = results[3 * i : 3 * i + 3]
        if not totals.ok or not price.ok:
            out[m.id] = "the market or its oracle did not answer"
            continue
        try:
            _, _, borrow_assets, borrow_shares, _, _ = decode_as(["uint128"] * 6, totals.data)
            (oracle_price,) = decode_as(["uint256"], price.data)
        except BadReturn as err:
            out[m.id] = err.message
            continue
        out[m.id] = (int(borrow_assets), int(borrow_shares), int(oracle_price))
    return out


def position_call(morpho: str, market_id: str, user: str) -> Call:
    return Call(morpho, calldata("position(bytes32,address)", _id(market_id), user))


def parse_account(m: MorphoMarket, state: tuple[int, int, int], result: Result, symbols: dict[str, tuple[str, int]],
                  loan_usd: float) -> Account:
    """One wallet in one market, with the health factor as the contract's isHealthy works it out."""
    if not result.ok:
        raise BadReturn("Morpho did not answer position()")
    _, borrow_shares, collateral = decode_as(["uint256", "uint128", "uint128"], result.data)
    borrow_assets, total_shares, price = state
    loan_symbol, loan_dec = symbols[m.loan.lower()]
    coll_symbol, coll_dec = symbols[m.collateral.lower()]
    # borrowed rounds up, the borrowing limit down: the contract's own roundings
    owed = -(-int(borrow_shares) * (borrow_assets + VIRTUAL_ASSETS) // (total_shares + VIRTUAL_SHARES))
    limit = int(collateral) * price // ORACLE_SCALE * m.lltv // WAD
    lltv = m.lltv / WAD
    incentive = min(MAX_INCENTIVE, 1 / (1 - CURSOR * (1 - lltv)))
    coll_price = price / ORACLE_SCALE * 10 ** (coll_dec - loan_dec) * loan_usd  # USD per whole collateral token
    collateral_tokens = Decimal(int(collateral)) / Decimal(10) ** coll_dec
    debt_tokens = Decimal(owed) / Decimal(10) ** loan_dec
    return Account(
        hf=limit / owed if owed else None,
        collateral_usd=float(collateral_tokens) * coll_price,
        debt_usd=float(debt_tokens) * loan_usd,
        emode=0,
        collateral={coll_symbol: collateral_tokens} if collateral else {},
        debt={loan_symbol: debt_tokens} if owed else {},
        terms={coll_symbol: (lltv, lltv, incentive - 1)},
        prices={coll_symbol: coll_price, loan_symbol: loan_usd},
    )
