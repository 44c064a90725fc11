"""collateral-bot core: platform-free positions, lending math, prices, warnings, commands and storage.

Rooms, each a package: `lending` (positions, presets, the risk math), `market` (prices, yields,
charts), `storage` (SQLite), `chain` (wallets' positions read from the lenders' contracts),
`watch` (warnings and their delivery) and `chat` (commands and answers). At the top only what every room shares: `config`, `errors`, `ports`, `replies` (the
platform-neutral answer), `redact` (secrets masked) and `text` (names cleaned). Directions:
lending imports no room; market and storage only lending; chain lending and storage; watch not
chat; chat any. Nothing here
imports bot/, telegram or discord; tests/unit/test_dependency_rule.py checks both.
"""
