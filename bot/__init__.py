"""collateral-bot adapters and composition root (console, Telegram, Discord)."""
