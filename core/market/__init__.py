"""Market: what assets are worth and what they earn.

Owns the price sources (CoinGecko, Binance, Coinbase, a replay), the guard that decides which quotes
to trust, the feed the other rooms read, the price history, the yield pools and their SQLite cache,
carry, impermanent loss and the chart drawing. It may import `lending` and core's shared modules
(config, errors, ports, replies, redact, text), nothing else.
"""
