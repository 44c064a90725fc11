"""Storage: the database every room keeps its state in, a SQLite file or a PostgreSQL server.

Owns the store (owners, positions, legs, alert options, watches), its two engines, the named
migrations, online backups and restores, the one-bot-per-file lock, and, on PostgreSQL, the
replicas' leadership by advisory lock and their LISTEN/NOTIFY. It may import `lending` (the value objects
it stores) and core's shared modules, nothing else.
"""
