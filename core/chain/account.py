"""What a reader returns for one wallet on one lender at one block: the lender's own numbers."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Account:
    """One wallet's position on one market at one block."""

    hf: float | None  # the lender's own health factor; None when it owes nothing
    collateral_usd: float
    debt_usd: float
    emode: int  # Aave's e-mode category (0: none, and for the other lenders)
    collateral: dict[str, Decimal]  # symbol -> tokens, interest included
    debt: dict[str, Decimal]
    terms: dict[str, tuple[float, float, float]]  # symbol -> (ltv, lt, penalty) as they apply to this account
    prices: dict[str, float]  # USD, as the lender's oracle has them
    unlisted: tuple[str, ...] = ()  # token addresses it uses that the address book does not name
    system: tuple[tuple[str, float], ...] = ()  # lender-wide figures worth showing (Liquity's TCR, recovery mode)

    @property
    def empty(self) -> bool:
        return not self.collateral and not self.debt and self.collateral_usd == 0 and self.debt_usd == 0
