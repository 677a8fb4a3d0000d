"""Network membership, live against declared: who sits on which network is what makes the
reachability matrix hold, and the backend sits on internal networks only (no egress)."""

from __future__ import annotations

from fixtures.clients.compose import declared
from fixtures.stack import SERVICE_LABEL, ComposeStack


def test_network_membership_matches_the_compose_config(compose_stack: ComposeStack) -> None:
    model = declared(compose_stack)
    compose_name = {network.name: name for name, network in compose_stack.networks().items()}
    differences = {}
    for container in compose_stack.containers():
        service = container.labels[SERVICE_LABEL]
        live = sorted(compose_name.get(n, n) for n in container.attrs["NetworkSettings"]["Networks"])
        wanted = sorted(model.service(service).get("networks") or {})
        if live != wanted:
            differences[service] = f"on {live}, declared {wanted}"
    assert not differences, f"networks differ from the compose config: {differences}"


def test_backend_is_attached_only_to_internal_networks(compose_stack: ComposeStack) -> None:
    attached = list(compose_stack.container("backend").attrs["NetworkSettings"]["Networks"])
    internal = {name: bool(compose_stack.client.networks.get(name).attrs.get("Internal")) for name in attached}
    assert internal and all(internal.values()), f"backend's networks (name: internal): {internal}"
    # The declared model agrees: every network the backend joins is declared internal.
    model = declared(compose_stack)
    declared_networks = {name: bool((model.config.get("networks") or {}).get(name, {}).get("internal"))
                         for name in model.service("backend").get("networks") or {}}
    assert declared_networks and all(declared_networks.values()), f"compose config: backend networks {declared_networks}"
