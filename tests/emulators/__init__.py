"""Loopback emulators of the outside world (price APIs, later chat platforms) for tests and benches."""
