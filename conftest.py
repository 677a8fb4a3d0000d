"""Wires plugins only; fixtures live next to what they serve (tests/, fixtures/)."""

pytest_plugins = ["tests.servers.fixtures"]
