"""collateral-bot core: platform-free positions, lending math, prices and storage."""
