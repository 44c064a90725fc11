"""The small pieces every command's grammar reads: position ids, W-numbers, asset symbols, the end of the line."""

from __future__ import annotations

import re

from core.errors import UsageError
from core.lending.assets import AssetRegistry

MAX_ID = 999_999_999

_ID = re.compile(r"#?([0-9]{1,9})")
_WATCH_ID = re.compile(r"[Ww]([0-9]{1,9})")


class Words:
    """Token readers shared by the command grammars (they raise UsageError with a short reason)."""

    def __init__(self, registry: AssetRegistry):
        self.registry = registry

    def _id(self, token: str) -> int:
        match = _ID.fullmatch(token)
        if not match:
            shown = token[:16] + ("…" if len(token) > 16 else "")
            raise UsageError(f"{shown!r} is not a position id; ids look like 1 or #1 (see /positions).")
        value = int(match.group(1))
        if not 0 < value <= MAX_ID:
            raise UsageError(f"{token!r} is not a position id; ids look like 1 or #1 (see /positions).")
        return value

    def _is_id(self, token: str) -> bool:
        return _ID.fullmatch(token) is not None

    def _ref(self, token: str) -> tuple[int | None, int | None]:
        """(own id, None) for '3' or '#3'; (None, watch number) for 'W3'."""
        match = _WATCH_ID.fullmatch(token)
        if match and 0 < int(match.group(1)) <= MAX_ID:
            return None, int(match.group(1))
        return self._id(token), None

    def _symbol(self, token: str) -> str:
        return self.registry.lookup(token).symbol

    def _done(self, args: list[str], i: int) -> None:
        if i < len(args):
            extra = " ".join(args[i:])
            extra = extra[:40] + ("…" if len(extra) > 40 else "")
            raise UsageError(f"I did not understand {extra!r}.")
