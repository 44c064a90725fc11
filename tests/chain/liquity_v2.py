"""Liquity v2 (liquity/bold at 405f9122, compiled with solc-js 0.8.24, 200 runs, Cancun) on the local chain: BOLD,
the collateral registry, the hint helpers and the debt-in-front helper, and the WETH, wstETH and rETH branches,
every contract at its Ethereum address (contracts/addresses/1.json), wired as the repository's deployment
script wires them. The WETH branch prices with the real WETHPriceFeed over a Chainlink-style mock aggregator;
the wstETH and rETH branches with the repository's PriceFeedTestnet, as its Sepolia deployment does. The
metadata NFT (only tokenURI needs it) and the zappers are not deployed."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from eth_abi import encode
from eth_hash.auto import keccak

from tests.chain.aave_market import AaveMarket
from tests.chain.evm import FIXTURES, Contract, LocalChain

ARTIFACTS: dict[str, Any] = json.loads((FIXTURES / "liquity-bold-405f9122.json").read_text())
WAD = 10**18
PCT = WAD // 100
# contracts/addresses/1.json of liquity/bold (deployed 2025-05)
BOLD = "0x6440f144b7e50d6a8439336510312d2f54beb01d"
COLLATERAL_REGISTRY = "0xf949982b91c8c61e952b3ba942cbbfaef5386684"
HINT_HELPERS = "0xf0cae19c96e572234398d6665cc1147a16cbe657"
MULTI_TROVE_GETTER = "0xfa61db085510c64b83056db3a7acf3b6f631d235"
DEBT_IN_FRONT = "0x4bb5e28fdb12891369b560f2fab3c032600677c6"
BRANCHES = {  # symbol: (collateral token, registry, borrower operations, trove manager, trove NFT, stability pool,
    # active pool, default pool, gas pool, surplus pool, sorted troves, price feed)
    "WETH": ("0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2", "0x20f7c9ad66983f6523a0881d0f82406541417526",
             "0x372abd1810eaf23cb9d941bbe7596dfb2c46bc65", "0x7bcb64b2c9206a5b699ed43363f6f98d4776cf5a",
             "0x1a0fc0b843afd9140267d25d4e575cb37a838013", "0x5721cbbd64fc7ae3ef44a0a3f9a790a9264cf9bf",
             "0xeb5a8c825582965f1d84606e078620a84ab16afe", "0xd4558240d50c2e219a21c9d25afd513bb6e5b1a0",
             "0x7b9ab3de4036cae51f1fa4ec0a2c2fd606bcf921", "0xedbe2509e502c0320d2e7f8b6746a49b4b50e2bf",
             "0xa25269e41bd072513849f2e64ad221e84f3063f4", "0xcc5f8102eb670c89a4a3c567c13851260303c24f"),
    "wstETH": ("0x7f39c581f595b53c5cb19bd0b3f8da6c935e2ca0", "0x8d733f7ea7c23cbea7c613b6ebd845d46d3aac54",
               "0xa741a32f9dcfe6adba088fd0f97e90742d7d5da3", "0xa2895d6a3bf110561dfe4b71ca539d84e1928b22",
               "0x857aecebf75f1012dc18e15020c97096aea31b04", "0x9502b7c397e9aa22fe9db7ef7daf21cd2aebe56b",
               "0x531a8f99c70d6a56a7cee02d6b4281650d7919a0", "0xd796e1648526400386cc4d12fa05e5f11e6a22a1",
               "0x8c44fba379d8a8608c0e29b2729deb75a981db1f", "0x36e6cbdf68f64cf00fc3a6c634a25be32dd0a235",
               "0x84eb85a8c25049255614f0536bea8f31682e86f1", "0xe7aa2ba9e086a379d3beb224098bc634a46e314e"),
    "rETH": ("0xae78736cd615f374d3085123a210448e74fc6393", "0x6106046f031a22713697e04c08b330ddaf3e8789",
             "0xe8119fc02953b27a1b48d2573855738485a17329", "0xb2b2abeb5c357a234363ff5d180912d319e3e19e",
             "0x7ae430e25b67f19b431e1d1dc048a5bcf24c0873", "0xd442e41019b7f5c4dd78f50dc03726c446148695",
             "0x9074d72cc82dad1e13e454755aa8f144c479532f", "0x5cc5cefd034fdc4728d487a72ca58a410cddcd6b",
             "0x45c81dce308389e1bee63ae30a04fb1e148dad41", "0xba4a2bd8b76df84cac98eba3f4b967d8423192bf",
             "0x14d8d8011df2b396ed2bbc4959bb73250324f386", "0x34f1e9c7dcc279ec70d3c4488eb2d80fba8b7b2b"),
}
METADATA_NFT = {"WETH": "0x9b36c3b16299d68c79f174df7e728e35b6af4a12", "wstETH": "0x362f822df79790c8077e61110484fffa48f682a1",
                "rETH": "0x3400874305e1547020fb8e80eaf1308b757171af"}
INTEREST_ROUTER = "0x807def5e7d057df05c796f4bc75c3fe82bd6eee1"
# CCR, MCR, BCR, SCR, liquidation penalty to the stability pool and on redistribution (src/Dependencies/Constants.sol)
PARAMS = {"WETH": (150 * PCT, 110 * PCT, 10 * PCT, 110 * PCT, 5 * PCT, 10 * PCT),
          "wstETH": (160 * PCT, 120 * PCT, 10 * PCT, 120 * PCT, 5 * PCT, 20 * PCT),
          "rETH": (160 * PCT, 120 * PCT, 10 * PCT, 120 * PCT, 5 * PCT, 20 * PCT)}
GAS_COMPENSATION = 375 * WAD // 10_000  # 0.0375 WETH per trove


def trove_id(sender: str, owner: str, index: int) -> int:
    """How BorrowerOperations numbers a trove: keccak256(abi.encode(sender, owner, index))."""
    return int.from_bytes(keccak(encode(["address", "address", "uint256"], [sender, owner, index])), "big")


@dataclass
class Branch:
    symbol: str
    token: Contract
    operations: Contract
    troves: Contract
    nft: Contract
    feed: Contract
    aggregator: Contract | None = None  # the WETH branch's Chainlink-style source


@dataclass
class LiquityV2:
    chain: LocalChain
    bold: Contract
    registry: Contract
    branches: dict[str, Branch] = field(default_factory=dict)

    def open(self, who: str, symbol: str, coll: float, bold: float, rate: float, index: int = 0) -> int:
        """Open a trove (`rate` a fraction a year); returns its id."""
        b, weth = self.branches[symbol], self.branches["WETH"].token
        self._mint(b.token, who, round(coll * WAD))
        self._mint(weth, who, GAS_COMPENSATION)
        for token in {b.token.address: b.token, weth.address: weth}.values():
            token.send("approve", b.operations.address, 2**256 - 1, sender=who)
        zero = "0x" + "00" * 20
        b.operations.send("openTrove", who, index, round(coll * WAD), round(bold * WAD), 0, 0, round(rate * WAD),
                          2**256 - 1, zero, zero, zero, sender=who)
        return trove_id(who, who, index)

    def set_rate(self, who: str, symbol: str, trove: int, rate: float) -> None:
        self.branches[symbol].operations.send("adjustTroveInterestRate", trove, round(rate * WAD), 0, 0, 2**256 - 1,
                                              sender=who)

    def repay(self, who: str, symbol: str, trove: int, bold: float) -> None:
        self.branches[symbol].operations.send("repayBold", trove, round(bold * WAD), sender=who)

    def redeem(self, who: str, bold: float) -> None:
        """Redeem BOLD held by `who` (it must hold it) against the lowest-rate troves, fee up to 100 %."""
        self.registry.send("redeemCollateral", round(bold * WAD), 20, WAD, sender=who)

    def liquidate(self, who: str, symbol: str, trove: int) -> None:
        self.branches[symbol].troves.send("batchLiquidateTroves", [trove], sender=who)

    def set_price(self, symbol: str, usd: float) -> None:
        b = self.branches[symbol]
        if b.aggregator is not None:
            b.aggregator.send("setPrice", round(usd * 10**8))
            b.aggregator.send("setUpdatedAt", self.chain.time())
        else:
            b.feed.send("setPrice", round(usd * WAD))

    def _mint(self, token: Contract, who: str, amount: int) -> None:
        token.send("mint", who, amount, sender=self.chain.deployer)


def deploy_liquity_v2(aave: AaveMarket) -> LiquityV2:
    """The whole system as its deployment script builds it; WETH and wstETH are the tokens already on the chain."""
    chain, a, me = aave.chain, ARTIFACTS, aave.chain.deployer
    bold = chain.deploy(a["BoldToken"], me, at=BOLD)
    tokens = {"WETH": aave.tokens["WETH"], "wstETH": aave.blue.wsteth}
    tokens["rETH"] = chain.deploy(a["ERC20Faucet"], "Rocket Pool ETH", "rETH", 0, 2**256 - 1, at=BRANCHES["rETH"][0])
    registries = {s: chain.deploy(a["AddressesRegistry"], me, *PARAMS[s], at=addr[1]) for s, addr in BRANCHES.items()}
    collateral = chain.deploy(a["CollateralRegistry"], bold.address, [tokens[s].address for s in BRANCHES],
                              [addr[3] for addr in BRANCHES.values()], at=COLLATERAL_REGISTRY)
    hints = chain.deploy(a["HintHelpers"], collateral.address, at=HINT_HELPERS)
    getter = chain.deploy(a["MultiTroveGetter"], collateral.address, at=MULTI_TROVE_GETTER)
    chain.deploy(a["DebtInFrontHelper"], collateral.address, hints.address, at=DEBT_IN_FRONT)
    system = LiquityV2(chain, bold, collateral)
    for symbol, (_, reg, ops, tm, nft, sp, ap, dp, gas, surplus, sorted_, feed_at) in BRANCHES.items():
        aggregator = None
        if symbol == "WETH":
            aggregator = chain.deploy(a["ChainlinkOracleMock"])
            aggregator.send("setDecimals", 8)
            aggregator.send("setPrice", 3_000 * 10**8)
            aggregator.send("setUpdatedAt", chain.time())
            # staleness: ten years, so the tests' time travel never shuts the branch down
            feed = chain.deploy(a["WETHPriceFeed"], aggregator.address, 10 * 365 * 86400, ops, at=feed_at)
        else:
            feed = chain.deploy(a["PriceFeedTestnet"], at=feed_at)
            feed.send("setPrice", 3_500 * WAD)
        registries[symbol].send("setAddresses", (tokens[symbol].address, ops, tm, nft, METADATA_NFT[symbol], sp, feed.address,
                                                 ap, dp, gas, surplus, sorted_, INTEREST_ROUTER, hints.address, getter.address,
                                                 collateral.address, bold.address, tokens["WETH"].address))
        made = {}
        for name, at in (("BorrowerOperations", ops), ("TroveManager", tm), ("TroveNFT", nft), ("StabilityPool", sp),
                         ("ActivePool", ap), ("DefaultPool", dp), ("GasPool", gas), ("CollSurplusPool", surplus),
                         ("SortedTroves", sorted_)):
            made[name] = chain.deploy(a[name], reg, at=at)
        bold.send("setBranchAddresses", tm, sp, ops, ap)
        system.branches[symbol] = Branch(symbol, tokens[symbol], made["BorrowerOperations"], made["TroveManager"],
                                         made["TroveNFT"], feed, aggregator)
    bold.send("setCollateralRegistry", collateral.address)
    return system
