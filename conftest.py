"""Wires plugins only; fixtures live next to what they serve (tests/servers for harness/, fixtures/)."""

pytest_plugins = ["tests.servers.fixtures", "fixtures.plugin", "fixtures.report"]
