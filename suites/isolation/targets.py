"""Where each vantage point aims: the services behind the gateway and the addresses that
name them on each of the project's networks."""

from __future__ import annotations

from fixtures.services import port as serving_port
from fixtures.stack import ComposeStack, StackError

# Everything behind the gateway: the API, the stores, monitoring and error tracking.
BEHIND_THE_GATEWAY = ["backend", "mongo", "minio", "elasticsearch", "sentry", "prometheus", "alertmanager",
                      "receiver", "grafana", "kibana"]
BACKEND_DEPENDENCIES = ["mongo", "minio", "elasticsearch", "sentry"]


def network_ip(stack: ComposeStack, service: str, network: str) -> str:
    """``service``'s address on the project network ``network`` (compose name)."""
    name = stack.networks()[network].name
    ip = (stack.container(service).attrs["NetworkSettings"]["Networks"].get(name) or {}).get("IPAddress")
    if not ip:
        raise StackError(f"{service} has no address on network {name}")
    return str(ip)


def frontend_host_side(stack: ComposeStack) -> str:
    """The host's own address on the frontend bridge (its IPAM gateway, x.x.x.1)."""
    configs = stack.networks()["frontend"].attrs["IPAM"]["Config"] or [{}]
    return str(configs[0]["Gateway"])


def frontend_gateway_targets(stack: ComposeStack) -> list[str]:
    """The gateway's port on the frontend network: the host side of its bridge, and the gateway itself."""
    port = serving_port("gateway")
    return [f"{frontend_host_side(stack)}:{port}", f"{network_ip(stack, 'gateway', 'frontend')}:{port}"]
