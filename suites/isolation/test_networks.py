"""Network membership, live against the policy (compose/policy.yaml): who sits on which
network is what makes the reachability matrix hold, and the backend sits on internal
networks only (no egress). The compose file the stack was started with is not the
reference: an override that adds a network fails here."""

from __future__ import annotations

from fixtures import policy
from fixtures.clients.compose import stack_violations
from fixtures.stack import ComposeStack


def test_network_membership_matches_the_policy(compose_stack: ComposeStack) -> None:
    differences = stack_violations(compose_stack, "networks")
    assert not differences, f"networks differ from compose/policy.yaml: {differences}"


def test_policy_internal_networks_are_internal(compose_stack: ComposeStack) -> None:
    live = {name: bool(network.attrs.get("Internal")) for name, network in compose_stack.networks().items()}
    wrong = {name: live.get(name) for name, internal in policy.load().internal_networks.items() if live.get(name) != internal}
    assert not wrong, f"networks whose Internal flag differs from compose/policy.yaml (name: live flag): {wrong}"


def test_backend_is_attached_only_to_internal_networks(compose_stack: ComposeStack) -> None:
    attached = list(compose_stack.container("backend").attrs["NetworkSettings"]["Networks"])
    internal = {name: bool(compose_stack.client.networks.get(name).attrs.get("Internal")) for name in attached}
    assert internal and all(internal.values()), f"backend's networks (name: internal): {internal}"
