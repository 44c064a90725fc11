"""Watch: warnings pushed without being asked.

Owns the alert rules (levels, hysteresis, backing-off reminders, snooze), the evaluator that values
every position as arrays each tick, the monitor that turns prices into queued notices in one
transaction, the notices' wording, the outbox, delivery within each platform's limits, the
scheduler, and the backtest that replays the same rules through history. It may import `lending`,
`market`, `storage` and core's shared modules, never `chat`.
"""
