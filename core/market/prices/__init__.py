"""Prices: aiohttp sources, validation of what they answer, the guard, the feed, history and replay."""
