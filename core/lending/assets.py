"""The asset registry: which symbols users may type and how each price source names them."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Iterator
from importlib import resources

from core.errors import UnknownAsset
from core.lending.models import Asset

MAX_SYMBOL_LENGTH = 12


def normalise_symbol(text: str) -> str:
    """NFKC-fold and upper-case a typed symbol (full-width letters become ASCII)."""
    return unicodedata.normalize("NFKC", text).strip().upper()


class AssetRegistry:
    """Known assets by symbol and alias, case-insensitive."""

    def __init__(self, assets: Iterable[Asset]):
        self._by_symbol: dict[str, Asset] = {}
        self._index: dict[str, Asset] = {}
        for asset in assets:
            self._by_symbol[asset.symbol] = asset
            for name in (asset.symbol, *asset.aliases):
                self._index[name.upper()] = asset

    @classmethod
    def bundled(cls) -> AssetRegistry:
        """The registry shipped in core/lending/data/assets.json."""
        raw = json.loads(resources.files("core.lending").joinpath("data/assets.json").read_text())
        return cls(
            Asset(
                symbol=item["symbol"],
                name=item["name"],
                stable=item.get("stable", False),
                fixed=item.get("fixed", False),
                moves_with=item.get("moves_with"),
                aliases=tuple(item.get("aliases", ())),
                source_ids=tuple(sorted(item.get("ids", {}).items())),
            )
            for item in raw["assets"]
        )

    def lookup(self, text: str) -> Asset:
        """The asset a user means by `text`, or UnknownAsset."""
        key = normalise_symbol(text)
        asset = self._index.get(key) if len(key) <= MAX_SYMBOL_LENGTH else None
        if asset is None:
            shown = key[:MAX_SYMBOL_LENGTH] + ("…" if len(key) > MAX_SYMBOL_LENGTH else "")
            raise UnknownAsset(f"Unknown asset {shown!r}. Known: {self.symbols_text()}.")
        return asset

    def get(self, symbol: str) -> Asset:
        """The asset with this canonical symbol (KeyError if none)."""
        return self._by_symbol[symbol]

    def family(self, symbol: str) -> str:
        """The asset a symbol ultimately moves with (wstETH -> ETH, BTC -> BTC)."""
        seen = set()
        while symbol not in seen:
            seen.add(symbol)
            asset = self._by_symbol.get(symbol)
            if asset is None or asset.moves_with is None:
                return symbol
            symbol = asset.moves_with
        return symbol

    def symbols_text(self) -> str:
        """Comma-separated canonical symbols, for help and error text."""
        return ", ".join(self._by_symbol)

    def __iter__(self) -> Iterator[Asset]:
        return iter(self._by_symbol.values())

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._by_symbol
