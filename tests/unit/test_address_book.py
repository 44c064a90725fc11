"""The shipped contract address book: every address well formed, a mistyped one refused by its checksum."""

from __future__ import annotations

import json
import re
from importlib import resources

import pytest

from core.chain.abi import checksum_ok
from core.chain.addresses import AddressBook
from core.errors import CoreError

RAW = resources.files("core.chain").joinpath("data/addresses.json").read_text()


def test_every_shipped_address_carries_a_right_checksum():
    addresses = set(re.findall(r"0x[0-9a-fA-F]{40}\b", RAW))
    assert len(addresses) > 50 and [a for a in addresses if not checksum_ok(a)] == []
    book = AddressBook.bundled()
    assert book.maker["ethereum"].dog == "0x135954d155898D42C90D2a57824C690e0c7BEf1B"  # Maker's chainlog MCD_DOG
    assert [b.symbol for b in book.liquity2["ethereum"].branches] == ["WETH", "wstETH", "rETH"]


def test_a_mistyped_address_is_refused_by_its_checksum():
    raw = json.loads(RAW)
    raw["maker"]["ethereum"]["dog"] = "0x135954d155898D42C90D2a57824C690e0c7BEf1E"  # one digit off
    with pytest.raises(CoreError, match="malformed near ethereum"):
        AddressBook.parse(raw, "a file")
