"""User-facing errors: one small class each, under one root, turned into text at the edge."""

from __future__ import annotations


class CoreError(Exception):
    """Root of every error the core explains to a user."""

    def __init__(self, message: str, usage: str | None = None):
        super().__init__(message)
        self.message = message
        self.usage = usage


class UsageError(CoreError):
    """The command was not understood; the reply carries its usage line."""


class InvalidAmount(UsageError):
    """An amount, percentage or threshold did not parse or is out of range."""


class UnknownAsset(UsageError):
    """A symbol that is not in the asset registry."""


class UnknownCommand(UsageError):
    """A slash command the bot does not have."""


class UnknownProtocol(UsageError):
    """A lender preset that does not exist."""


class UnsupportedByProtocol(UsageError):
    """The preset does not accept this asset, market or shape of position."""


class PositionNotFound(CoreError):
    """No position with that id belongs to the caller (or it does not exist at all)."""


class NotPermitted(CoreError):
    """The caller may not do this here (for example a non-admin in a group)."""


class LimitReached(CoreError):
    """A per-owner cap (positions, legs) would be exceeded."""


class InvalidChange(CoreError):
    """A deposit, withdrawal, borrow or repayment that cannot apply to the position."""


class PriceUnavailable(CoreError):
    """No trustworthy price could be had for an asset."""


class ChainUnavailable(CoreError):
    """A chain could not be asked (its RPC failed or none is configured)."""
