"""Lending: what a position is and what its lender makes of it.

Owns the value objects (assets, legs, positions, owners, chats, quotes), the asset registry, the
lenders' presets and the terms they resolve to, the risk math (health factor, capacity, liquidation
prices and costs) and valuation at a price snapshot, and the strict parsing and formatting of
numbers. It imports no other room: only the standard library and core's shared errors.
"""
