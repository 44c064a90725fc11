"""ABI encoding for the few views the readers call: selectors, calldata and strict decoding (eth-abi)."""

from __future__ import annotations

import re
from typing import Any

from eth_abi import decode, encode
from eth_abi.exceptions import DecodingError
from eth_hash.auto import keccak

from core.errors import CoreError

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


class BadReturn(CoreError):
    """A call answered with data that does not decode as its declared outputs (short, empty or malformed)."""


def selector(signature: str) -> bytes:
    """The 4-byte selector of `name(type,...)`."""
    return keccak(signature.encode())[:4]


def calldata(signature: str, *args: Any) -> bytes:
    """Selector plus the encoded arguments of a `name(type,...)` signature."""
    types = _split(signature[signature.index("(") + 1 : -1])
    return selector(signature) + encode(types, list(args))


def decode_as(types: list[str], data: bytes) -> tuple[Any, ...]:
    """Decode return data, refusing empty, short or malformed answers (a call to an address without code is empty)."""
    if not data:
        raise BadReturn("empty return data (no contract at that address?)")
    try:
        return tuple(decode(types, data, strict=True))
    except (DecodingError, ValueError, OverflowError) as err:
        raise BadReturn(f"return data does not decode as ({','.join(types)}): {type(err).__name__}") from err


def is_address(text: str) -> bool:
    """0x and 40 hex digits."""
    return _ADDRESS.fullmatch(text) is not None


def checksum(address: str) -> str:
    """The EIP-55 mixed-case spelling of an address."""
    plain = address.lower().removeprefix("0x")
    digest = keccak(plain.encode()).hex()
    return "0x" + "".join(c.upper() if int(digest[i], 16) >= 8 else c for i, c in enumerate(plain))


def checksum_ok(address: str) -> bool:
    """An all-lower or all-upper address carries no checksum; a mixed-case one must match EIP-55."""
    body = address[2:]
    return body == body.lower() or body == body.upper() or checksum(address) == address


def _split(types: str) -> list[str]:
    """Top-level comma split that keeps tuple types whole."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(types):
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            out.append(types[start:i])
            start = i + 1
    if types:
        out.append(types[start:])
    return out
