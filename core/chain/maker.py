"""Maker (Sky) vaults read from the core contracts: the CDP manager's vaults of an owner, the Vat's ink, art and
rate, the Spotter's price and ratio, the Dog's penalty, and the OSM's current and next price (read from its
storage: peek and peep answer only whitelisted contracts), all at one block."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.chain.abi import BadReturn, calldata, decode_as
from core.chain.account import Account
from core.chain.addresses import MakerDeployment
from core.chain.multicall import Call, Result

WAD, RAY = 10**18, 10**27
OSM_CUR, OSM_NXT = 3, 4  # storage slots of the OSM's Feed cur and nxt: (uint128 val, uint128 has), val low


@dataclass(frozen=True)
class Vault:
    cdp: int
    urn: str
    ilk: bytes  # 32 bytes, "ETH-A" padded

    @property
    def ilk_name(self) -> str:
        return self.ilk.rstrip(b"\0").decode(errors="replace")


@dataclass(frozen=True)
class IlkState:
    rate: int  # ray
    spot: int  # ray: price / par / mat
    pip: str
    mat: int  # ray
    chop: int  # wad
    par: int  # ray


@dataclass(frozen=True)
class NextPrice:
    """The OSM's price now and the one it takes at `at` (unix time)."""

    current: float
    upcoming: float
    at: int


def vault_list_calls(manager: str, owner: str) -> list[Call]:
    return [Call(manager, calldata("first(address)", owner)), Call(manager, calldata("count(address)", owner))]


def vault_calls(manager: str, cdp: int) -> list[Call]:
    return [Call(manager, calldata(f"{name}(uint256)", cdp)) for name in ("urns", "ilks", "list")]


def parse_vault(cdp: int, results: list[Result]) -> tuple[Vault, int]:
    """The vault, and the next one of the same owner (0: none)."""
    if not all(r.ok for r in results):
        raise BadReturn("the CDP manager did not answer")
    (urn,) = decode_as(["address"], results[0].data)
    (ilk,) = decode_as(["bytes32"], results[1].data)
    _, nxt = decode_as(["uint256", "uint256"], results[2].data)
    return Vault(cdp, str(urn), bytes(ilk)), int(nxt)


def ilk_calls(dep: MakerDeployment, ilk: bytes) -> list[Call]:
    """The ilk's rate and spot, ratio, penalty, the par; and its stability fee from the Jug when the book names it."""
    calls = [Call(dep.vat, calldata("ilks(bytes32)", ilk)), Call(dep.spot, calldata("ilks(bytes32)", ilk)),
             Call(dep.dog, calldata("ilks(bytes32)", ilk)), Call(dep.spot, calldata("par()"))]
    if dep.jug:
        calls += [Call(dep.jug, calldata("ilks(bytes32)", ilk)), Call(dep.jug, calldata("base()"))]
    return calls


def parse_ilk(results: list[Result], now: int) -> IlkState:
    """The ilk at block time `now`; its rate with the fee accrued since the last drip, as a drip now would set it."""
    if not all(r.ok for r in results):
        raise BadReturn("the Vat, Spotter, Dog or Jug did not answer for that ilk")
    _, rate, spot, _, _ = decode_as(["uint256"] * 5, results[0].data)
    pip, mat = decode_as(["address", "uint256"], results[1].data)
    _, chop, _, _ = decode_as(["address", "uint256", "uint256", "uint256"], results[2].data)
    (par,) = decode_as(["uint256"], results[3].data)
    rate = int(rate)
    if len(results) > 4:
        duty, rho = (int(x) for x in decode_as(["uint256", "uint256"], results[4].data))
        (base,) = decode_as(["uint256"], results[5].data)
        if now > rho:
            rate = rpow(int(base) + duty, now - rho) * rate // RAY  # jug.drip: rmul(rpow(base + duty, age, ONE), rate)
    return IlkState(rate, int(spot), str(pip), int(mat), int(chop), int(par))


def rpow(x: int, n: int) -> int:
    """x ** n in ray, rounding half up at each step, as the Jug's rpow does."""
    z = x if n % 2 else RAY
    n //= 2
    while n:
        x = (x * x + RAY // 2) // RAY
        if n % 2:
            z = (z * x + RAY // 2) // RAY
        n //= 2
    return z


def urn_call(vat: str, vault: Vault) -> Call:
    return Call(vat, calldata("urns(bytes32,address)", vault.ilk, vault.urn))


def osm_calls(pip: str) -> list[Call]:
    return [Call(pip, calldata("zzz()")), Call(pip, calldata("hop()"))]


def feed_value(word: str) -> int:
    """The val of an OSM Feed slot (its low 128 bits), in wad."""
    return int(str(word), 16) & (2**128 - 1)


def next_price(results: list[Result], cur_word: str, nxt_word: str) -> NextPrice:
    if not all(r.ok for r in results):
        raise BadReturn("the OSM did not answer zzz or hop")
    (zzz,) = decode_as(["uint64"], results[0].data)
    (hop,) = decode_as(["uint16"], results[1].data)
    return NextPrice(feed_value(cur_word) / WAD, feed_value(nxt_word) / WAD, int(zzz) + int(hop))


def parse_account(vault: Vault, ilk: IlkState, result: Result, gem: str, price: float) -> Account:
    """One vault: collateral, debt with the stability fee accrued into rate, the Vat's own safety test as a ratio."""
    if not result.ok:
        raise BadReturn("the Vat did not answer urns")
    ink, art = (int(x) for x in decode_as(["uint256", "uint256"], result.data))
    tab = art * ilk.rate  # rad
    limit = ink * ilk.spot  # rad: what the Vat lets this collateral owe
    ratio = 1 / (ilk.mat / RAY)
    return Account(
        hf=limit / tab if tab else None,
        collateral_usd=ink / WAD * price,
        debt_usd=tab / (WAD * RAY),
        emode=0,
        collateral={gem: Decimal(ink) / WAD} if ink else {},
        debt={"DAI": Decimal(tab) / Decimal(WAD * RAY)} if tab else {},
        terms={gem: (ratio, ratio, ilk.chop / WAD - 1)},
        prices={gem: price, "DAI": ilk.par / RAY},
    )


def ratio_at(account: Account, gem: str, price: float) -> float | None:
    """The vault's collateral ratio at another price of its collateral."""
    debt = account.debt_usd
    amount = float(account.collateral.get(gem, 0))
    return amount * price / debt if debt else None
