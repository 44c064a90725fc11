"""Storage: the SQLite database every room keeps its state in.

Owns the store (owners, positions, legs, alert options, watches), the named migrations, online
backups and restores, and the one-bot-per-database lock. It may import `lending` (the value objects
it stores) and core's shared modules, nothing else.
"""
