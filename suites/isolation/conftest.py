"""The vantage points, each asked once per session: a probe container on the frontend
network, one on the backend network (the control), one connect round from inside the backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fixtures.clients import probe
from fixtures.services import port as serving_port
from fixtures.stack import ComposeStack

from .targets import BACKEND_DEPENDENCIES, BEHIND_THE_GATEWAY, frontend_gateway_targets, network_ip


@pytest.fixture(scope="session")
def behind_the_gateway(compose_stack: ComposeStack) -> dict[str, list[str]]:
    """service -> its targets, by compose name and by backend-network IP (services with a container)."""
    present = set(compose_stack.services())
    return {service: [f"{service}:{serving_port(service)}",
                      f"{network_ip(compose_stack, service, 'backend')}:{serving_port(service)}"]
            for service in BEHIND_THE_GATEWAY if service in present}


@pytest.fixture(scope="session")
def frontend_probe(compose_stack: ComposeStack) -> Iterator[probe.Probe]:
    with probe.probe(compose_stack, "frontend") as handle:
        yield handle


@pytest.fixture(scope="session")
def frontend_view(frontend_probe: probe.Probe, behind_the_gateway: dict[str, list[str]]) -> dict[str, str]:
    targets = [f"gateway:{serving_port('gateway')}"] + [t for ts in behind_the_gateway.values() for t in ts]
    return frontend_probe.connect(targets)


@pytest.fixture(scope="session")
def backend_network_view(compose_stack: ComposeStack, behind_the_gateway: dict[str, list[str]]) -> dict[str, str]:
    # The control that shows each target is listening: a client on the backend network reaches
    # every address there. (The host was this control while every network was a bridge; it
    # routes no swarm overlay.)
    with probe.probe(compose_stack, "backend") as handle:
        return handle.connect([ts[1] for ts in behind_the_gateway.values()])


@pytest.fixture(scope="session")
def backend_view(compose_stack: ComposeStack) -> dict[str, str]:
    targets = [f"{s}:{serving_port(s)}" for s in BACKEND_DEPENDENCIES] + frontend_gateway_targets(compose_stack)
    return probe.from_service(compose_stack, "backend", targets)
