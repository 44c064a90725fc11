"""Prices: aiohttp sources, validation of what they answer, and the book the service reads."""
