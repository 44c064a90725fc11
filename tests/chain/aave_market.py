"""The real Aave v3 market (npm @aave/core-v3 1.19.3) deployed on the local chain at Ethereum's addresses.

The PoolAddressesProvider and the WETH, WBTC and USDC tokens sit where Ethereum has them (the addresses the
bot ships), so the bot finds the pool, oracle and data provider through the provider, as it does on mainnet.
Tokens are Aave's MintableERC20 mocks and prices come from its MockAggregator (8 decimals, USD).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tests.chain.evm import FIXTURES, Contract, LocalChain

ARTIFACTS: dict[str, Any] = json.loads((FIXTURES / "aave-v3-core-1.19.3.json").read_text())

# Ethereum mainnet (the bot's address book; @bgd-labs/aave-address-book 4.44.22).
PROVIDER = "0x2f39d218133AFaB8F2B819B1066c7E434Ad94E9e"
TOKENS = {
    "WETH": ("0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2", 18, 3_000),
    "WBTC": ("0x2260FAC5E5542a773Aa44fBCfeDf7C193bc2C599", 8, 60_000),
    "USDC": ("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", 6, 1),
}
# (ltv, liquidation threshold, bonus) in basis points, as configureReserveAsCollateral takes them
RISK = {"WETH": (8050, 8250, 10500), "WBTC": (7300, 7800, 10500), "USDC": (7700, 8000, 10450)}
RAY = 10**27


@dataclass
class AaveMarket:
    """Handles on the deployed market, and the moves a wallet makes on it."""

    chain: LocalChain
    provider: Contract
    pool: Contract
    configurator: Contract
    oracle: Contract
    data_provider: Contract
    tokens: dict[str, Contract] = field(default_factory=dict)

    def units(self, symbol: str, amount: float) -> int:
        return round(amount * 10 ** TOKENS[symbol][1])

    def fund(self, who: str, symbol: str, amount: float) -> None:
        self.tokens[symbol].send("mint", who, self.units(symbol, amount), sender=self.chain.deployer)

    def supply(self, who: str, symbol: str, amount: float) -> None:
        """Mint the tokens to `who` and supply them (they count as collateral)."""
        self.fund(who, symbol, amount)
        self.tokens[symbol].send("approve", self.pool.address, 2**256 - 1, sender=who)
        self.pool.send("supply", self.tokens[symbol].address, self.units(symbol, amount), who, 0, sender=who)

    def borrow(self, who: str, symbol: str, amount: float) -> None:
        self.pool.send("borrow", self.tokens[symbol].address, self.units(symbol, amount), 2, 0, who, sender=who)

    def repay(self, who: str, symbol: str, amount: float) -> None:
        self.fund(who, symbol, amount)  # enough to cover accrued interest too
        self.tokens[symbol].send("approve", self.pool.address, 2**256 - 1, sender=who)
        self.pool.send("repay", self.tokens[symbol].address, self.units(symbol, amount), 2, who, sender=who)

    def set_price(self, symbol: str, usd: float) -> None:
        """A new price source for the asset (Aave's mock aggregator has a fixed answer, so a new one replaces it)."""
        feed = self.chain.deploy(ARTIFACTS["MockAggregator"], round(usd * 10**8))
        self.oracle.send("setAssetSources", [self.tokens[symbol].address], [feed.address])

    def liquidate(self, liquidator: str, user: str, collateral: str, debt: str, amount: float) -> None:
        """A liquidator repays `amount` of the user's debt for their collateral (its bonus included)."""
        self.fund(liquidator, debt, amount)
        self.tokens[debt].send("approve", self.pool.address, 2**256 - 1, sender=liquidator)
        self.pool.send("liquidationCall", self.tokens[collateral].address, self.tokens[debt].address, user,
                       self.units(debt, amount), False, sender=liquidator)

    def set_emode(self, who: str, category: int) -> None:
        self.pool.send("setUserEMode", category, sender=who)

    def account(self, who: str) -> tuple[int, ...]:
        return tuple(self.pool.call("getUserAccountData", who))


def deploy(chain: LocalChain) -> AaveMarket:
    """The whole market: provider, ACL, pool and configurator behind their proxies, oracle, data provider, reserves."""
    a, me = ARTIFACTS, chain.deployer
    provider = chain.deploy(a["PoolAddressesProvider"], "Aave Ethereum Market", me, at=PROVIDER)
    provider.send("setACLAdmin", me)
    acl = chain.deploy(a["ACLManager"], provider.address)
    provider.send("setACLManager", acl.address)
    acl.send("addPoolAdmin", me)

    libs: dict[str, str] = {}
    for name in ("BorrowLogic", "BridgeLogic", "EModeLogic", "LiquidationLogic", "PoolLogic", "SupplyLogic", "ConfiguratorLogic"):
        libs[name] = chain.deploy(a[name]).address
    libs["FlashLoanLogic"] = chain.deploy(a["FlashLoanLogic"], links=libs).address
    pool_impl = chain.deploy(a["Pool"], provider.address, links=libs)
    provider.send("setPoolImpl", pool_impl.address)
    pool = chain.at(a["Pool"], provider.call("getPool"))
    conf_impl = chain.deploy(a["PoolConfigurator"], links=libs)
    provider.send("setPoolConfiguratorImpl", conf_impl.address)
    configurator = chain.at(a["PoolConfigurator"], provider.call("getPoolConfigurator"))

    tokens = {s: chain.deploy(a["MintableERC20"], s, s, d, at=addr) for s, (addr, d, _) in TOKENS.items()}
    feeds = [chain.deploy(a["MockAggregator"], price * 10**8).address for _, _, price in TOKENS.values()]
    oracle = chain.deploy(a["AaveOracle"], provider.address, [t.address for t in tokens.values()], feeds,
                          "0x" + "00" * 20, "0x" + "00" * 20, 10**8)
    provider.send("setPriceOracle", oracle.address)
    data_provider = chain.deploy(a["AaveProtocolDataProvider"], provider.address)
    provider.send("setPoolDataProvider", data_provider.address)

    a_token = chain.deploy(a["AToken"], pool.address)
    stable = chain.deploy(a["StableDebtToken"], pool.address)
    variable = chain.deploy(a["VariableDebtToken"], pool.address)
    rates = chain.deploy(a["DefaultReserveInterestRateStrategy"], provider.address, 9 * RAY // 10, 0,
                         4 * RAY // 100, 60 * RAY // 100, 0, 0, 0, 0, 0)
    zero = "0x" + "00" * 20
    configurator.send("initReserves", [
        (a_token.address, stable.address, variable.address, d, rates.address, tokens[s].address, me, zero,
         f"Aave {s}", f"a{s}", f"Aave variable debt {s}", f"variableDebt{s}", f"Aave stable debt {s}", f"stableDebt{s}", b"")
        for s, (_, d, _) in TOKENS.items()
    ])
    for s, (ltv, lt, bonus) in RISK.items():
        configurator.send("configureReserveAsCollateral", tokens[s].address, ltv, lt, bonus)
        configurator.send("setReserveBorrowing", tokens[s].address, True)
        configurator.send("setReserveFactor", tokens[s].address, 1000)
    # An ETH-correlated e-mode, as Ethereum's market has one (category 1)
    configurator.send("setEModeCategory", 1, 9000, 9300, 10100, zero, "ETH correlated")
    configurator.send("setAssetEModeCategory", tokens["WETH"].address, 1)
    return AaveMarket(chain, provider, pool, configurator, oracle, data_provider, tokens)
