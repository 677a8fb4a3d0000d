"""Who reaches whom, from each vantage point (test_networks.py holds the topology that
makes these true to the compose config):

- a client on the frontend network reaches the gateway, and nothing behind it: neither by
  name (not resolvable there) nor by the backend-network address (dropped by Docker's
  isolation rules, or for a swarm overlay not routed here at all), while a client on the
  backend network shows each of those addresses is listening;
- the gateway reaches the backend; the backend reaches its stores and error tracking;
- the backend has no way out: attached to internal networks only, it cannot reach the
  frontend network, neither the gateway there nor the host side of that bridge.
"""

from __future__ import annotations

import pytest

from fixtures.clients import probe
from fixtures.plugin import require
from fixtures.services import port as serving_port
from fixtures.stack import ComposeStack, Stack

from .targets import BACKEND_DEPENDENCIES, BEHIND_THE_GATEWAY, frontend_gateway_targets


def test_frontend_reaches_the_gateway(frontend_view: dict[str, str]) -> None:
    target = f"gateway:{serving_port('gateway')}"
    assert frontend_view[target] == probe.CONNECTED, f"probe on frontend -> {target}: {frontend_view[target]}"


@pytest.mark.parametrize("service", BEHIND_THE_GATEWAY)
def test_frontend_cannot_reach(stack: Stack, service: str, behind_the_gateway: dict[str, list[str]],
                               frontend_view: dict[str, str], backend_network_view: dict[str, str]) -> None:
    require(stack, service)
    assert service in behind_the_gateway, f"{service}: no container in {stack.target}"
    by_name, by_ip = behind_the_gateway[service]
    # Control: the address is live, so "not reached" below means isolated, not down.
    assert backend_network_view[by_ip] == probe.CONNECTED, (
        f"{service} at {by_ip} does not answer even a client on the backend network: {backend_network_view[by_ip]}")
    seen = {target: frontend_view[target] for target in (by_name, by_ip)}
    assert probe.CONNECTED not in seen.values(), f"probe on frontend reaches {service}: {seen}"


def test_gateway_reaches_the_backend(compose_stack: ComposeStack) -> None:
    target = f"backend:{serving_port('backend')}"
    seen = probe.from_service(compose_stack, "gateway", [target])
    assert seen[target] == probe.CONNECTED, f"gateway -> {target}: {seen[target]}"


@pytest.mark.parametrize("dependency", BACKEND_DEPENDENCIES)
def test_backend_reaches(backend_view: dict[str, str], dependency: str) -> None:
    target = f"{dependency}:{serving_port(dependency)}"
    assert backend_view[target] == probe.CONNECTED, f"backend -> {target}: {backend_view[target]}"


def test_backend_cannot_reach_the_frontend_network(compose_stack: ComposeStack, backend_view: dict[str, str]) -> None:
    control = f"mongo:{serving_port('mongo')}"
    assert backend_view[control] == probe.CONNECTED, f"control: backend -> {control}: {backend_view[control]}"
    # Seen here: `timeout` for the gateway (dropped between the bridges) and `refused` for the
    # host side: an internal network does not hide the host's own addresses; nothing serves
    # 5921 on that one.
    seen = {target: backend_view[target] for target in frontend_gateway_targets(compose_stack)}
    assert probe.CONNECTED not in seen.values(), f"backend reaches the frontend network: {seen}"
