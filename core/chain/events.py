"""Liquidations read from the lenders' own event logs: Aave's LiquidationCall, Compound's AbsorbCollateral and
AbsorbDebt, Morpho Blue's Liquidate, Maker's Bark, Liquity v1's TroveLiquidated and redemptions, Liquity v2's TroveOperation
(liquidate, redeemCollateral), decoded into what was taken and what was repaid."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from eth_hash.auto import keccak

from core.chain.abi import BadReturn, decode_as

SIGNATURES = {
    "aave-v3": "LiquidationCall(address,address,address,uint256,uint256,address,bool)",
    "compound-v3": "AbsorbCollateral(address,address,address,uint256,uint256)",
    "compound-v3-debt": "AbsorbDebt(address,address,uint256,uint256)",
    "morpho": "Liquidate(bytes32,address,address,uint256,uint256,uint256,uint256,uint256)",
    "liquity-v1": "TroveLiquidated(address,uint256,uint256,uint8)",
    "maker": "Bark(bytes32,address,uint256,uint256,uint256,address,uint256)",
    "liquity-v1-redeemed": "TroveUpdated(address,uint256,uint256,uint256,uint8)",  # operation 3: a redemption
    # Liquity v2: every change to a trove; operation 5 is a liquidation, 6 a redemption
    "liquity-v2": "TroveOperation(uint256,uint8,uint256,uint256,uint256,int256,uint256,int256)",
}
REDEEM_COLLATERAL = 3  # Liquity v1's TroveManagerOperation.redeemCollateral
V2_LIQUIDATE, V2_REDEEM = 5, 6  # Liquity v2's ITroveEvents.Operation
TOPICS = {kind: "0x" + keccak(sig.encode()).hex() for kind, sig in SIGNATURES.items()}
_KIND_OF = {topic: kind for kind, topic in TOPICS.items()}


@dataclass(frozen=True)
class Liquidation:
    """One liquidation log, as it concerns one borrower."""

    kind: str  # a key of SIGNATURES ("liquity-v2-redeemed" for a v2 redemption)
    contract: str  # the lender contract that emitted it (lower case)
    borrower: str  # lower case; a Liquity v2 trove's id, in decimal
    market: str | None  # Morpho's market id
    tx: str
    block: int
    log_index: int
    taken: tuple[tuple[str, int], ...]  # (token address or "" for a Morpho market's collateral, raw amount)
    repaid: tuple[tuple[str, int], ...]


def _address(topic: str) -> str:
    return "0x" + topic[-40:].lower()


def decode(log: dict[str, Any]) -> Liquidation | None:
    """A liquidation from one eth_getLogs entry, or None for any other log; BadReturn when it is malformed."""
    try:
        topics = [str(t) for t in log["topics"]]
        kind = _KIND_OF.get(topics[0]) if topics else None
        if kind is None:
            return None
        data = bytes.fromhex(str(log["data"]).removeprefix("0x"))
        where = (str(log["address"]).lower(), str(log["transactionHash"]), int(log["blockNumber"], 16),
                 int(log["logIndex"], 16))
    except (KeyError, TypeError, ValueError) as err:
        raise BadReturn(f"a log entry is malformed: {type(err).__name__}") from err
    if kind == "aave-v3":  # collateralAsset, debtAsset, user indexed
        debt_covered, collateral_taken, _, _ = decode_as(["uint256", "uint256", "address", "bool"], data)
        return Liquidation(kind, where[0], _address(topics[3]), None, *where[1:],
                           ((_address(topics[1]), collateral_taken),), ((_address(topics[2]), debt_covered),))
    if kind == "compound-v3":  # absorber, borrower, asset indexed
        absorbed, _ = decode_as(["uint256", "uint256"], data)
        return Liquidation(kind, where[0], _address(topics[2]), None, *where[1:], ((_address(topics[3]), absorbed),), ())
    if kind == "compound-v3-debt":  # absorber, borrower indexed
        paid, _ = decode_as(["uint256", "uint256"], data)
        return Liquidation(kind, where[0], _address(topics[2]), None, *where[1:], (), (("", paid),))
    if kind == "maker":  # ilk, urn, auction id indexed; the collateral and the debt (`due`, a rad) go to auction
        ink, _, due, _ = decode_as(["uint256", "uint256", "uint256", "address"], data)
        return Liquidation(kind, where[0], _address(topics[2]), None, *where[1:], (("", ink),), (("", due // 10**27),))
    if kind == "liquity-v1":  # borrower indexed; the trove's whole debt and collateral went
        debt, coll, _ = decode_as(["uint256", "uint256", "uint8"], data)
        return Liquidation(kind, where[0], _address(topics[1]), None, *where[1:], (("", coll),), (("", debt),))
    if kind == "liquity-v1-redeemed":  # borrower indexed; what is left after the redemption
        debt, coll, _, operation = decode_as(["uint256", "uint256", "uint256", "uint8"], data)
        if operation != REDEEM_COLLATERAL:
            return None
        return Liquidation(kind, where[0], _address(topics[1]), None, *where[1:], (("left", coll),), (("left", debt),))
    if kind == "liquity-v2":  # trove id indexed; what the operation took off the trove (negative changes)
        operation, _, _, _, debt_change, _, coll_change = decode_as(
            ["uint8", "uint256", "uint256", "uint256", "int256", "uint256", "int256"], data)
        if operation not in (V2_LIQUIDATE, V2_REDEEM):
            return None
        kind = "liquity-v2" if operation == V2_LIQUIDATE else "liquity-v2-redeemed"
        return Liquidation(kind, where[0], str(int(topics[1], 16)), None, *where[1:], (("", max(0, -coll_change)),),
                           (("", max(0, -debt_change)),))
    # morpho: id, caller, borrower indexed
    repaid_assets, _, seized, _, _ = decode_as(["uint256"] * 5, data)
    return Liquidation(kind, where[0], _address(topics[3]), topics[1].lower(), *where[1:], (("", seized),),
                       (("", repaid_assets),))


def amount(raw: int, decimals: int) -> Decimal:
    return Decimal(raw) / Decimal(10) ** decimals
