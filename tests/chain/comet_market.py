"""Real Compound v3 (Comet and CometExt from github.com/compound-finance/comet at d5a30b0a, compiled with solc-js
0.8.15 through the IR pipeline as its hardhat config does) at cUSDCv3's Ethereum address, on the same WETH,
WBTC and USDC tokens as the Aave market, with SimplePriceFeed oracles (8 decimals, USD).

Ethereum's cUSDCv3 is a proxy; here the implementation's constructor runs at that address instead, which gives
the same reads. Collateral factors are mainnet's (deployments/mainnet/usdc/configuration.json).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tests.chain.aave_market import TOKENS, AaveMarket
from tests.chain.evm import FIXTURES, Contract

ARTIFACTS: dict[str, Any] = json.loads((FIXTURES / "comet-d5a30b0a.json").read_text())

CUSDCV3 = "0xc3d688B66703497DAA19211EEdff47f25384cdc3"
CWETHV3 = "0xA17581A9E3356d9A858b789D68B4d866e593aE94"
# asset: (borrow collateral factor, liquidate collateral factor, liquidation factor), mainnet's
FACTORS = {"WETH": (0.825, 0.895, 0.95), "WBTC": (0.7, 0.77, 0.95)}
E18 = 10**18


@dataclass
class CometMarket:
    aave: AaveMarket
    comet: Contract
    feeds: dict[str, Contract]

    @property
    def chain(self):
        return self.aave.chain

    def _units(self, symbol: str, amount: float) -> int:
        return round(amount * 10 ** TOKENS[symbol][1])

    def supply(self, who: str, symbol: str, amount: float) -> None:
        token = self.aave.tokens[symbol]
        token.send("mint", who, self._units(symbol, amount), sender=self.chain.deployer)
        token.send("approve", self.comet.address, 2**256 - 1, sender=who)
        self.comet.send("supply", token.address, self._units(symbol, amount), sender=who)

    def borrow(self, who: str, amount: float) -> None:
        """Withdrawing the base asset past a zero balance is borrowing it."""
        self.comet.send("withdraw", self.aave.tokens["USDC"].address, self._units("USDC", amount), sender=who)

    def absorb(self, absorber: str, *accounts: str) -> None:
        """Comet takes an underwater account's collateral and clears its debt."""
        self.comet.send("absorb", absorber, list(accounts), sender=absorber)

    def set_price(self, symbol: str, usd: float) -> None:
        self.feeds[symbol].send("setRoundData", 2, round(usd * 10**8), 0, self.chain.time(), 2)


def deploy_comet(aave: AaveMarket, base: str = "USDC", at: str = CUSDCV3) -> CometMarket:
    """A Comet market lending `base` against the other FACTORS assets, at `at` (cUSDCv3 or cWETHv3)."""
    chain, me, a = aave.chain, aave.chain.deployer, ARTIFACTS
    ext = chain.deploy(a["CometExt"], (f"Compound {base}".encode().ljust(32, b"\0"), f"c{base}v3".encode().ljust(32, b"\0")))
    feeds = {s: chain.deploy(a["SimplePriceFeed"], price * 10**8, 8) for s, (_, _, price) in TOKENS.items()}
    assets = [(aave.tokens[s].address, feeds[s].address, TOKENS[s][1], round(b * E18), round(lt * E18), round(lf * E18),
               10**30) for s, (b, lt, lf) in FACTORS.items() if s != base]
    rate = lambda x: round(x * E18)  # noqa: E731 - per-year rates as the configuration takes them
    config = (me, me, aave.tokens[base].address, feeds[base].address, ext.address,
              rate(0.8), rate(0.0325), rate(0.4), 0, rate(0.8), rate(0.035), rate(0.25), rate(0.015),
              rate(0.5), 10**15, 0, 0, 10**12, 100 * 10 ** TOKENS[base][1] // TOKENS[base][2], 10**12, assets)
    comet = chain.deploy(a["Comet"], config, at=at)
    comet.send("initializeStorage")
    return CometMarket(aave, comet, feeds)
