"""Console fixtures live in console_fixtures.py so test modules can import helpers."""

from console_fixtures import cheap_unknown_user_hash, client, clock, commands, seed  # noqa: F401
