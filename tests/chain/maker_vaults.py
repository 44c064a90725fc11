"""Maker's core on the local chain at Ethereum's addresses: Vat, Spotter, Jug (5 % a year), Dog (with a Clipper and a Vow)
and the CDP manager (makerdao/dss
fa4f663, makerdao/dss-cdp-manager 95eb088), an OSM (makerdao/osm e36c874) fed by a DSValue (dapphub/ds-value),
and a GemJoin for ETH-A on the tests' WETH, all compiled with solc-js 0.6.12 with the Yul optimizer off."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tests.chain.aave_market import AaveMarket
from tests.chain.evm import FIXTURES, Contract

ARTIFACTS: dict[str, Any] = json.loads((FIXTURES / "maker-dss.json").read_text())

# Ethereum's (Maker's chainlog: MCD_VAT, MCD_SPOT, MCD_DOG, CDP_MANAGER)
VAT = "0x35D1b3F3D7966A1DFe207aa4514C12a259A0492B"
SPOT = "0x65C79fcB50Ca1594B025960e539eD7A9a6D434A3"
DOG = "0x135954d155898D42C90D2a57824C690e0c7BEf1B"
CDP_MANAGER = "0x5ef30b9986345249bc32d8928B7ee64DE9435E39"
JUG = "0x19c0976f590D67707E62397C87829d896Dc0f1F1"
# the stability fee the tests' ETH-A charges, 5 % a year, as the Jug's per-second base over 1 (ray)
WAD, RAY, RAD = 10**18, 10**27, 10**45
FEE_BASE = int((Decimal("1.05") ** (Decimal(1) / Decimal(365 * 86400)) - 1) * Decimal(RAY))
ETH_A = b"ETH-A".ljust(32, b"\0")


@dataclass
class MakerVaults:
    aave: AaveMarket
    vat: Contract
    spot: Contract
    manager: Contract
    join: Contract
    osm: Contract
    feed: Contract  # the DSValue the OSM reads
    dog: Contract
    jug: Contract

    def drip(self) -> None:
        """Anyone may fold the accrued stability fee into the ilk's rate."""
        self.jug.send("drip", ETH_A)

    def bark(self, keeper: str, cdp: int) -> None:
        """The Dog starts the auction of an unsafe vault."""
        self.dog.send("bark", ETH_A, self.manager.call("urns", cdp), keeper, sender=keeper)

    @property
    def chain(self):
        return self.aave.chain

    def open(self, who: str, weth: float, dai: float) -> int:
        """A vault for `who` with `weth` locked and `dai` drawn at the rate of now (dripped first, as Maker's proxy
        actions do)."""
        self.drip()
        self.manager.send("open", ETH_A, who, sender=who)
        cdp = self.manager.call("last", who)
        urn = self.manager.call("urns", cdp)
        self.aave.fund(who, "WETH", weth)
        self.aave.tokens["WETH"].send("approve", self.join.address, 2**256 - 1, sender=who)
        self.join.send("join", urn, round(weth * WAD), sender=who)
        rate = self.vat.call("ilks", ETH_A)[1]
        art = -(-round(dai * WAD) * RAY // rate)  # normalized debt, rounded up so the draw covers `dai` (proxy actions do)
        self.manager.send("frob", cdp, round(weth * WAD), art, sender=who)
        return cdp

    def next_price(self, usd: float) -> None:
        """The feed moves; the OSM takes it as its next price at the next poke, and makes it current an hour later."""
        self.feed.send("poke", round(usd * WAD).to_bytes(32, "big"))

    def poke_osm(self) -> None:
        """An hour on: the OSM's next price becomes current, the feed's becomes next; the Spotter takes the current."""
        self.chain.travel(3600)
        self.osm.send("poke")
        self.spot.send("poke", ETH_A)


def deploy_maker(aave: AaveMarket) -> MakerVaults:
    chain, a = aave.chain, ARTIFACTS
    vat = chain.deploy(a["Vat"], at=VAT)
    spot = chain.deploy(a["Spotter"], vat.address, at=SPOT)
    dog = chain.deploy(a["Dog"], vat.address, at=DOG)
    manager = chain.deploy(a["DssCdpManager"], vat.address, at=CDP_MANAGER)
    join = chain.deploy(a["GemJoin"], vat.address, ETH_A, aave.tokens["WETH"].address)
    feed = chain.deploy(a["DSValue"])
    osm = chain.deploy(a["OSM"], feed.address)
    clip = chain.deploy(a["Clipper"], vat.address, spot.address, dog.address, ETH_A)
    calc = chain.deploy(a["LinearDecrease"])
    calc.send("file", b"tau".ljust(32, b"\0"), 3600)
    clip.send("file(bytes32,address)", b"calc".ljust(32, b"\0"), calc.address)
    clip.send("rely", dog.address)
    for ward in (spot, dog, join, clip):
        vat.send("rely", ward.address)
    osm.send("kiss(address)", spot.address)
    osm.send("kiss(address)", clip.address)
    vow = chain.deploy(a["Vow"], vat.address, "0x" + "00" * 20, "0x" + "00" * 20)  # bad debt is owed to it
    vow.send("rely", dog.address)
    dog.send("file(bytes32,address)", b"vow".ljust(32, b"\0"), vow.address)
    dog.send("file(bytes32,uint256)", b"Hole".ljust(32, b"\0"), 10**9 * RAD)
    dog.send("file(bytes32,bytes32,uint256)", ETH_A, b"hole".ljust(32, b"\0"), 10**9 * RAD)
    dog.send("file(bytes32,bytes32,address)", ETH_A, b"clip".ljust(32, b"\0"), clip.address)
    vat.send("init", ETH_A)
    jug = chain.deploy(a["Jug"], vat.address, at=JUG)
    vat.send("rely", jug.address)
    jug.send("init", ETH_A)  # duty 1: the fee is all in base, which has no same-block rule to meet
    jug.send("file(bytes32,uint256)", b"base".ljust(32, b"\0"), FEE_BASE)
    jug.send("file(bytes32,address)", b"vow".ljust(32, b"\0"), vow.address)
    vat.send("file(bytes32,uint256)", b"Line".ljust(32, b"\0"), 10**9 * RAD)
    vat.send("file(bytes32,bytes32,uint256)", ETH_A, b"line".ljust(32, b"\0"), 10**9 * RAD)
    dog.send("file(bytes32,bytes32,uint256)", ETH_A, b"chop".ljust(32, b"\0"), 113 * WAD // 100)  # ETH-A's 13 % penalty
    spot.send("file(bytes32,bytes32,address)", ETH_A, b"pip".ljust(32, b"\0"), osm.address)
    spot.send("file(bytes32,bytes32,uint256)", ETH_A, b"mat".ljust(32, b"\0"), 145 * RAY // 100)  # ETH-A's 145 %
    vaults = MakerVaults(aave, vat, spot, manager, join, osm, feed, dog, jug)
    vaults.next_price(3_000)
    vaults.poke_osm()  # next = 3,000
    vaults.poke_osm()  # current = 3,000, and the Spotter has it
    return vaults
