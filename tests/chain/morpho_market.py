"""Real Morpho Blue (npm @morpho-org/morpho-blue 1.0.0, compiled with solc-js 0.8.19) on the local chain at
Ethereum's address, with two markets on the same WETH and USDC tokens as the Aave market.

* wstETH/WETH at 94.5 %: its oracle and rate model sit at the addresses of Ethereum's real market (a
  OracleMock and the IrmMock there), so its id is the real market's id, the one the bot bundles.
* WETH/USDC at 86 %: a market of the tests' own, found only by giving its id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from eth_abi import encode
from eth_hash.auto import keccak

from tests.chain.aave_market import ARTIFACTS as AAVE
from tests.chain.aave_market import TOKENS, AaveMarket
from tests.chain.evm import FIXTURES, Contract

ARTIFACTS: dict[str, Any] = json.loads((FIXTURES / "morpho-blue-1.0.0.json").read_text())

MORPHO = "0xBBBBBbbBBb9cC5e90e3b3Af64bdAF62C37EEFFCb"  # Ethereum and Base
WSTETH = "0x7f39C581F595B53c5cb19bD0b3f8dA6c935E2Ca0"
WSTETH_ORACLE = "0x2a01EB9496094dA03c4E364Def50f5aD1280AD72"  # of Ethereum's wstETH/WETH 94.5 % market
ADAPTIVE_IRM = "0x870aC11D48B15DB9a138Cf899d20F13F79Ba00BC"
WAD = 10**18


def market_id(params: tuple) -> str:
    return "0x" + keccak(encode(["address", "address", "address", "address", "uint256"], list(params))).hex()


@dataclass
class MorphoMarkets:
    aave: AaveMarket
    morpho: Contract
    wsteth: Contract
    lst: tuple  # wstETH/WETH market params
    usdc: tuple  # WETH/USDC market params
    usdc_oracle: Contract

    @property
    def chain(self):
        return self.aave.chain

    def _token(self, address: str) -> Contract:
        if address.lower() == WSTETH.lower():
            return self.wsteth
        return next(t for t in self.aave.tokens.values() if t.address.lower() == address.lower())

    def _units(self, address: str, amount: float) -> int:
        decimals = 18 if address.lower() == WSTETH.lower() else next(d for a, d, _ in TOKENS.values() if a.lower() == address.lower())
        return round(amount * 10**decimals)

    def lend(self, who: str, params: tuple, amount: float) -> None:
        token = self._token(params[0])
        token.send("mint", who, self._units(params[0], amount), sender=self.chain.deployer)
        token.send("approve", self.morpho.address, 2**256 - 1, sender=who)
        self.morpho.send("supply", params, self._units(params[0], amount), 0, who, b"", sender=who)

    def borrow(self, who: str, params: tuple, collateral: float, debt: float) -> None:
        token = self._token(params[1])
        token.send("mint", who, self._units(params[1], collateral), sender=self.chain.deployer)
        token.send("approve", self.morpho.address, 2**256 - 1, sender=who)
        self.morpho.send("supplyCollateral", params, self._units(params[1], collateral), who, b"", sender=who)
        self.morpho.send("borrow", params, self._units(params[0], debt), 0, who, who, sender=who)

    def repay(self, who: str, params: tuple, amount: float) -> None:
        token = self._token(params[0])
        token.send("mint", who, self._units(params[0], amount), sender=self.chain.deployer)
        token.send("approve", self.morpho.address, 2**256 - 1, sender=who)
        self.morpho.send("repay", params, self._units(params[0], amount), 0, who, b"", sender=who)

    def liquidate(self, liquidator: str, params: tuple, borrower: str, seized: float) -> None:
        """A liquidator seizes `seized` collateral, repaying what the incentive makes it worth."""
        token = self._token(params[0])
        token.send("mint", liquidator, 10**30, sender=self.chain.deployer)
        token.send("approve", self.morpho.address, 2**256 - 1, sender=liquidator)
        self.morpho.send("liquidate", params, borrower, self._units(params[1], seized), 0, b"", sender=liquidator)

    def set_usdc_price(self, weth_in_usd: float) -> None:
        """The WETH/USDC market's oracle: USDC units per WETH unit, scaled by 1e36."""
        self.usdc_oracle.send("setPrice", round(weth_in_usd * 10**6 * 10**36 // 10**18))


def deploy_morpho(aave: AaveMarket) -> MorphoMarkets:
    chain, me = aave.chain, aave.chain.deployer
    morpho = chain.deploy(ARTIFACTS["Morpho"], me, at=MORPHO)
    irm = chain.deploy(ARTIFACTS["IrmMock"], at=ADAPTIVE_IRM)
    wsteth = chain.deploy(AAVE["MintableERC20"], "wstETH", "wstETH", 18, at=WSTETH)
    lst_oracle = chain.deploy(ARTIFACTS["OracleMock"], at=WSTETH_ORACLE)
    lst_oracle.send("setPrice", 118 * 10**34)  # 1.18 WETH a wstETH, both 18 decimals
    usdc_oracle = chain.deploy(ARTIFACTS["OracleMock"])
    morpho.send("enableIrm", irm.address)
    for lltv in (945 * 10**15, 86 * 10**16):
        morpho.send("enableLltv", lltv)
    lst = (aave.tokens["WETH"].address, wsteth.address, lst_oracle.address, irm.address, 945 * 10**15)
    usdc = (aave.tokens["USDC"].address, aave.tokens["WETH"].address, usdc_oracle.address, irm.address, 86 * 10**16)
    for params in (lst, usdc):
        morpho.send("createMarket", params)
    markets = MorphoMarkets(aave, morpho, wsteth, lst, usdc, usdc_oracle)
    markets.set_usdc_price(3_000)
    return markets
