"""From the host, only the public entry's published ports answer, and what Docker publishes
is what the policy (compose/policy.yaml) allows: the gateway's 5921, or with the edge on
(compose/edge.yaml) the edge's 80 and 443 and not 5921; nothing else (in development, tool
ports on loopback too). The compose file the stack was started with is not the reference."""

from __future__ import annotations

from typing import Any

import pytest

from fixtures.clients import probe
from fixtures.clients.compose import stack_violations
from fixtures.services import port as serving_port
from fixtures.stack import ComposeStack, Stack, service_of
from suites.tls.edge import HTTP_PORT, HTTPS_PORT

GATEWAY_PORT = serving_port("gateway")
# The role ports a user might try on this machine; none is published.
UNPUBLISHED = [3847, 27017, 9000, 9090, 9093, 9200, 9097]


def public_entry(stack: Stack) -> tuple[str, list[tuple[int, int]]]:
    """The service the host is meant to reach and its (host port, container port) pairs."""
    if "edge" in stack.services():
        return "edge", [(80, HTTP_PORT), (443, HTTPS_PORT)]
    return "gateway", [(GATEWAY_PORT, GATEWAY_PORT)]


def live_bindings(container: Any) -> dict[tuple[int, int, str], str]:
    """(host port, container port, protocol) -> host address, from HostConfig.PortBindings."""
    bindings: dict[tuple[int, int, str], str] = {}
    for port, hosts in (container.attrs["HostConfig"].get("PortBindings") or {}).items():
        target, _, protocol = port.partition("/")
        for binding in hosts or []:
            bindings[(int(binding.get("HostPort") or 0), int(target), protocol or "tcp")] = binding.get("HostIp") or ""
    return bindings


@pytest.fixture(scope="module")
def loopback(stack: Stack) -> tuple[str, dict[int, str]]:
    # The address the gateway is published on (127.0.0.1 for `make up`; another loopback
    # address when several stacks share this machine): the one a user of this stack tries.
    # With the edge on, the edge's address (the same GATEWAY_BIND), where 5921 must not answer.
    # On a listed target (a deployed host, docs/target.example.yaml), its public address:
    # the same probes run from outside.
    service, ports = public_entry(stack)
    host, _ = stack.address(service, ports[0][1])
    others = [GATEWAY_PORT] if service == "edge" else []
    outcomes = probe.from_host([f"{host}:{port}" for port in [*(p for p, _ in ports), *others, *UNPUBLISHED]])
    return host, {int(target.rpartition(":")[2]): outcome for target, outcome in outcomes.items()}


def test_host_reaches_the_public_entry_on_loopback(stack: Stack, loopback: tuple[str, dict[int, str]]) -> None:
    host, seen = loopback
    service, ports = public_entry(stack)
    reached = {port: seen[port] for port, _ in ports}
    assert set(reached.values()) == {probe.CONNECTED}, f"{service} at {host}: {reached}"
    if service == "edge":
        assert seen[GATEWAY_PORT] != probe.CONNECTED, f"{host}:{GATEWAY_PORT} answers behind the edge"


@pytest.mark.parametrize("port", UNPUBLISHED)
def test_host_cannot_reach_unpublished_port(loopback: tuple[str, dict[int, str]], port: int) -> None:
    host, seen = loopback
    assert seen[port] != probe.CONNECTED, f"{host}:{port} accepts connections from the host"


def test_only_the_public_entry_publishes_ports(compose_stack: ComposeStack) -> None:
    service, ports = public_entry(compose_stack)
    published = {service_of(c.labels): sorted(live_bindings(c).items()) for c in compose_stack.containers()
                 if live_bindings(c)}
    assert list(published) == [service], f"containers publishing ports: {published}"
    wanted = [(host, target, "tcp") for host, target in ports]
    assert [key for key, _ in published[service]] == wanted, f"{service} publishes {published}"


def test_live_port_bindings_match_the_policy(compose_stack: ComposeStack) -> None:
    mismatches = stack_violations(compose_stack, "published")
    assert not mismatches, f"HostConfig.PortBindings differ from compose/policy.yaml: {mismatches}"
