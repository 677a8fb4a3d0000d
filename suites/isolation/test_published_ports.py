"""From the host, only the gateway's published port answers, and what Docker publishes is
exactly what the compose configuration the stack was started with declares: 5921, nothing else."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from fixtures.clients import probe
from fixtures.clients.compose import SERVICE_PORT, declared
from fixtures.stack import SERVICE_LABEL, ComposeStack

GATEWAY_PORT = SERVICE_PORT["gateway"]
# The role ports a user might try on this machine; none is published.
UNPUBLISHED = [3847, 27017, 9000, 9090, 9093, 9200, 9097]


def live_bindings(container: Any) -> dict[tuple[int, int, str], str]:
    """(host port, container port, protocol) -> host address, from HostConfig.PortBindings."""
    bindings: dict[tuple[int, int, str], str] = {}
    for port, hosts in (container.attrs["HostConfig"].get("PortBindings") or {}).items():
        target, _, protocol = port.partition("/")
        for binding in hosts or []:
            bindings[(int(binding.get("HostPort") or 0), int(target), protocol or "tcp")] = binding.get("HostIp") or ""
    return bindings


def _narrower_or_equal(live_ip: str, declared_ip: str) -> bool:
    # `make up` binds the gateway to 127.0.0.1 over the .env's address: loopback is never wider.
    return live_ip == declared_ip or (live_ip != "" and ipaddress.ip_address(live_ip).is_loopback)


@pytest.fixture(scope="module")
def loopback(compose_stack: ComposeStack) -> tuple[str, dict[int, str]]:
    # The address the gateway is published on (127.0.0.1 for `make up`; another loopback
    # address when several stacks share this machine): the one a user of this stack tries.
    host, _ = compose_stack.address("gateway", GATEWAY_PORT)
    outcomes = probe.from_host([f"{host}:{port}" for port in [GATEWAY_PORT, *UNPUBLISHED]])
    return host, {int(target.rpartition(":")[2]): outcome for target, outcome in outcomes.items()}


def test_host_reaches_the_gateway_on_loopback(loopback: tuple[str, dict[int, str]]) -> None:
    host, seen = loopback
    assert seen[GATEWAY_PORT] == probe.CONNECTED, f"{host}:{GATEWAY_PORT}: {seen[GATEWAY_PORT]}"


@pytest.mark.parametrize("port", UNPUBLISHED)
def test_host_cannot_reach_unpublished_port(loopback: tuple[str, dict[int, str]], port: int) -> None:
    host, seen = loopback
    assert seen[port] != probe.CONNECTED, f"{host}:{port} accepts connections from the host"


def test_compose_config_publishes_only_the_gateway_port(compose_stack: ComposeStack) -> None:
    model = declared(compose_stack)
    published = {name: sorted(model.published(name)) for name in model.services() if model.published(name)}
    assert published == {"gateway": [(GATEWAY_PORT, GATEWAY_PORT, "tcp")]}, f"compose config publishes {published}"


def test_only_the_gateway_publishes_a_port(compose_stack: ComposeStack) -> None:
    published = {c.labels[SERVICE_LABEL]: sorted(live_bindings(c).items()) for c in compose_stack.containers()
                 if live_bindings(c)}
    assert list(published) == ["gateway"], f"containers publishing ports: {published}"
    assert [key for key, _ in published["gateway"]] == [(GATEWAY_PORT, GATEWAY_PORT, "tcp")], f"gateway publishes {published}"


def test_live_port_bindings_match_the_compose_config(compose_stack: ComposeStack) -> None:
    model = declared(compose_stack)
    mismatches = {}
    for container in compose_stack.containers():
        service = container.labels[SERVICE_LABEL]
        live, wanted = live_bindings(container), model.published(service)
        if set(live) != set(wanted) or not all(_narrower_or_equal(live[k], wanted[k]) for k in live):
            mismatches[service] = f"live {live} vs declared {wanted}"
    assert not mismatches, f"HostConfig.PortBindings differ from the compose config: {mismatches}"
