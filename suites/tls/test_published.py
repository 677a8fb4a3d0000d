"""With the edge on, the host sees 80 and 443 and nothing else: the edge publishes exactly
those (to 8080 and 8443 inside), no other container publishes a port, and the gateway's
5921 no longer answers on the address the edge is published on."""

from __future__ import annotations

from fixtures.clients import probe
from fixtures.services import port as serving_port
from fixtures.stack import ComposeStack, service_of

from .edge import HTTP_PORT, HTTPS_PORT, Edge

GATEWAY_PORT = serving_port("gateway")


def test_only_80_and_443_are_published(compose_stack: ComposeStack, edge: Edge) -> None:
    published: dict[str, set[tuple[int, str]]] = {}
    for container in compose_stack.containers():
        for port, bindings in (container.attrs["HostConfig"].get("PortBindings") or {}).items():
            for binding in bindings or []:
                published.setdefault(service_of(container.labels), set()).add(
                    (int(binding.get("HostPort") or 0), port))
    wanted = {"edge": {(80, f"{HTTP_PORT}/tcp"), (443, f"{HTTPS_PORT}/tcp")}}
    assert published == wanted, f"published (host port, container port) by service: {published}"


def test_the_gateway_port_is_closed_where_the_edge_listens(edge: Edge) -> None:
    seen = probe.from_host([f"{edge.host}:{port}" for port in (edge.http_port, edge.https_port, GATEWAY_PORT)])
    assert seen == {f"{edge.host}:{edge.http_port}": probe.CONNECTED, f"{edge.host}:{edge.https_port}": probe.CONNECTED,
                    f"{edge.host}:{GATEWAY_PORT}": "refused"}, f"from the host: {seen}"
