"""Wires plugins only; fixtures live next to what they serve (tests/servers, fixtures/)."""

pytest_plugins = ["tests.servers.fixtures", "fixtures.plugin", "fixtures.report", "pytester"]
