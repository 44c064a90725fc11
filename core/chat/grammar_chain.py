"""The grammar of the commands that follow wallets on chain: /track and /untrack."""

from __future__ import annotations

import re

from core.chain.abi import checksum_ok, is_address
from core.chain.ens import normalized
from core.chat.commands import Command
from core.chat.grammar_words import Words
from core.errors import UsageError

CHAIN_LENDERS = ("aave-v3", "compound-v3", "liquity-v1", "liquity-v2", "maker", "morpho")  # read from the chain
_MARKET_ID = re.compile(r"0x[0-9a-fA-F]{64}")
_TROVE_ID = re.compile(r"[0-9]{1,78}|0x[0-9a-fA-F]{1,64}")  # a uint256, as the Liquity app shows it or in hex
CHAINS = ("ethereum", "arbitrum", "base", "optimism", "polygon")


class ChainGrammar(Words):
    """/track ADDRESS [on LENDER [CHAIN]] and /untrack ID."""

    def _track(self, args: list[str]) -> Command:
        if not args:
            raise UsageError("Which wallet? Like '/track 0x…' with its 0x address.")
        token = args[0]
        name = None
        if token.lower().endswith(".eth"):
            name = normalized(token)
            if name is None:
                raise UsageError("That ENS name is not one I can read: plain letters, digits and hyphens, like vitalik.eth.")
        elif not is_address(token):
            shown = token[:16] + ("…" if len(token) > 16 else "")
            raise UsageError(f"{shown!r} is not an address: one is 0x and 40 hex digits.")
        if name is None and not checksum_ok(token):
            raise UsageError("That address's capital letters do not match its checksum (EIP-55): a typo? Copy it again.")
        lender = chain = market = None
        i = 1
        if i < len(args):
            if args[i].lower() != "on" or i + 1 >= len(args):
                raise UsageError("Say which lender after 'on', like 'on aave-v3'.")
            lender = args[i + 1].lower()
            if lender not in CHAIN_LENDERS:
                raise UsageError(f"Unknown lender {lender[:24]!r} for /track: it reads {', '.join(CHAIN_LENDERS)}.")
            i += 2
            while i < len(args):
                word = args[i]
                if _MARKET_ID.fullmatch(word) and lender == "morpho" and market is None:
                    market = word.lower()
                elif word.isdigit() and lender == "maker" and market is None and 0 < int(word) < 10**9:
                    market = str(int(word))  # one vault, by its id
                elif lender == "liquity-v2" and market is None and _TROVE_ID.fullmatch(word) and 0 < int(word, 0) < 2**256:
                    market = str(int(word, 0))  # one trove, by its id (in decimal from here on)
                elif word.lower() in CHAINS and chain is None:
                    chain = word.lower()
                elif word.lower().startswith("0x") and lender == "morpho":
                    raise UsageError("A Morpho Blue market id is 0x and 64 hex digits (the market's page shows it).")
                elif lender == "liquity-v2" and (word[:1].isdigit() or word.lower().startswith("0x")):
                    raise UsageError("A Liquity v2 trove id is a whole number (the app shows it), in decimal or 0x hex.")
                else:
                    raise UsageError(f"Unknown chain {word[:24]!r}: one of {', '.join(CHAINS)}.")
                i += 1
        self._done(args, i)
        return Command("track", address=name or token.lower(), lender=lender, chain=chain, market_ref=market)

    def _untrack(self, args: list[str]) -> Command:
        if len(args) != 1:
            raise UsageError("Which position? Like '/untrack 1' (/positions lists them).")
        return Command("untrack", number=self._id(args[0]))
