"""Liquity v1 (liquity/dev at 39f1f7f8, compiled with solc-js 0.6.11, 100 runs) on the local chain, with the
TroveManager and the PriceFeed at Ethereum's addresses (mainnetDeploymentOutput.json); the price feed is the
repository's PriceFeedTestnet, so a test sets the price Liquity uses."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tests.chain.evm import FIXTURES, Contract, LocalChain

ARTIFACTS: dict[str, Any] = json.loads((FIXTURES / "liquity-v1-39f1f7f8.json").read_text())
TROVE_MANAGER = "0xA39739EF8b0231DbFA0DcdA07d7e29faAbCf4bb2"
PRICE_FEED = "0x4c517D4e2C851CA76d7eC94B805269Df0f2201De"
WAD = 10**18


@dataclass
class Liquity:
    chain: LocalChain
    troves: Contract
    borrowing: Contract
    price: Contract

    def open(self, who: str, eth: float, lusd: float) -> None:
        self.borrowing.send("openTrove", 5 * WAD // 100, round(lusd * WAD), "0x" + "00" * 20, "0x" + "00" * 20,
                            sender=who, value=round(eth * WAD))

    def liquidate(self, who: str, borrower: str) -> None:
        self.troves.send("liquidate", borrower, sender=who)

    def redeem(self, who: str, lusd: float, partly: str) -> None:
        """Redeem `lusd` from the lowest-ratio trove `partly`, which it leaves open (its new NICR is the one hint given)."""
        zero = "0x" + "00" * 20
        debt, coll, _, _ = self.troves.call("getEntireDebtAndColl", partly)
        price = self.price.call("getPrice")
        left_coll = coll - round(lusd * WAD) * WAD // price
        nicr = left_coll * 10**20 // (debt - round(lusd * WAD))
        self.troves.send("redeemCollateral", round(lusd * WAD), partly, zero, zero, nicr, 0, WAD, sender=who)

    def set_price(self, usd: float) -> None:
        self.price.send("setPrice", round(usd * WAD))


def deploy_liquity(chain: LocalChain) -> Liquity:
    a = ARTIFACTS
    price = chain.deploy(a["PriceFeedTestnet"], at=PRICE_FEED)
    troves = chain.deploy(a["TroveManager"], at=TROVE_MANAGER)
    c = {name: chain.deploy(a[name]) for name in ("SortedTroves", "ActivePool", "StabilityPool", "GasPool", "DefaultPool",
                                                  "CollSurplusPool", "BorrowerOperations", "LQTYStaking",
                                                  "LockupContractFactory", "CommunityIssuance")}
    lusd = chain.deploy(a["LUSDToken"], troves.address, c["StabilityPool"].address, c["BorrowerOperations"].address)
    me = chain.deployer
    lqty = chain.deploy(a["LQTYToken"], c["CommunityIssuance"].address, c["LQTYStaking"].address,
                        c["LockupContractFactory"].address, me, me, me)
    x = {k: v.address for k, v in c.items()}
    c["SortedTroves"].send("setParams", 2**256 - 1, troves.address, x["BorrowerOperations"])
    troves.send("setAddresses", x["BorrowerOperations"], x["ActivePool"], x["DefaultPool"], x["StabilityPool"], x["GasPool"],
                x["CollSurplusPool"], price.address, lusd.address, x["SortedTroves"], lqty.address, x["LQTYStaking"])
    c["BorrowerOperations"].send("setAddresses", troves.address, x["ActivePool"], x["DefaultPool"], x["StabilityPool"],
                                 x["GasPool"], x["CollSurplusPool"], price.address, x["SortedTroves"], lusd.address,
                                 x["LQTYStaking"])
    c["StabilityPool"].send("setAddresses", x["BorrowerOperations"], troves.address, x["ActivePool"], lusd.address,
                            x["SortedTroves"], price.address, x["CommunityIssuance"])
    c["ActivePool"].send("setAddresses", x["BorrowerOperations"], troves.address, x["StabilityPool"], x["DefaultPool"])
    c["DefaultPool"].send("setAddresses", troves.address, x["ActivePool"])
    c["CollSurplusPool"].send("setAddresses", x["BorrowerOperations"], troves.address, x["ActivePool"])
    c["LQTYStaking"].send("setAddresses", lqty.address, lusd.address, troves.address, x["BorrowerOperations"], x["ActivePool"])
    c["LockupContractFactory"].send("setLQTYTokenAddress", lqty.address)
    c["CommunityIssuance"].send("setAddresses", lqty.address, x["StabilityPool"])
    liquity = Liquity(chain, troves, c["BorrowerOperations"], price)
    liquity.set_price(3_000)
    return liquity
