"""`make swarm-down` never damages what else runs on the engine.

On Debian's 20.10 engine, ``docker swarm leave --force`` breaks the embedded DNS of every
container already running on a user-defined bridge network (issue 14: a compose stack's
gateway could no longer resolve ``backend``, every /api request a 502, every container
healthy). So :func:`ops.swarm.down` leaves the swarm only when no container runs, and only a
swarm it initialised itself. The decision is tested against a scripted engine; the effect
against the real one: a container pair on a bridge network, standing in for a compose stack,
still resolves its peer after ``down``, and ``down`` leaves no swarm state once nothing runs.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest

from ops import swarm

APP_IMAGE = f"stackproof/app:{os.environ.get('STACK_TAG', 'dev')}"
RESOLVES = "import socket, sys; print(socket.gethostbyname(sys.argv[1]))"


# --- the decision, against a scripted engine ---------------------------------------------
def engine(active: bool = True, ours: bool = True, services: tuple[str, ...] = (),
           running: tuple[str, ...] = ()) -> Any:
    """What `leave_blockers` asks of the Docker SDK's client: the swarm's state, this node's
    labels, the services and the running containers."""
    labels = {swarm.INITIALISED_LABEL: "ops.swarm"} if ours else {}
    node = SimpleNamespace(attrs={"Spec": {"Labels": labels}})
    state = {"Swarm": {"LocalNodeState": "active" if active else "inactive", "NodeID": "n1"}}
    return SimpleNamespace(
        info=lambda: state,
        nodes=SimpleNamespace(get=lambda _id: node),
        services=SimpleNamespace(list=lambda **_: [SimpleNamespace(name=n) for n in services]),
        containers=SimpleNamespace(list=lambda **_: [SimpleNamespace(name=n) for n in running]),
    )


def test_leaving_is_safe_only_with_nothing_running() -> None:
    assert swarm.leave_blockers(engine()) == []


def test_a_running_container_keeps_the_swarm() -> None:
    blockers = swarm.leave_blockers(engine(running=("stackproof-gateway-1",)))
    assert blockers == ["container stackproof-gateway-1"], blockers


def test_another_stacks_service_keeps_the_swarm() -> None:
    blockers = swarm.leave_blockers(engine(services=("shop_web",)))
    assert blockers == ["service shop_web"], blockers


def test_a_swarm_this_project_did_not_initialise_is_never_left() -> None:
    blockers = swarm.leave_blockers(engine(ours=False))
    assert blockers == ["ops.swarm did not initialise this swarm"], blockers


def test_no_swarm_nothing_to_leave() -> None:
    assert swarm.leave_blockers(engine(active=False, running=("x",))) == []


# --- the effect, on this machine's engine -----------------------------------------------
@dataclass
class BridgePair:
    """Two containers on a user-defined bridge network, as a compose stack's are: the second
    finds the first by name through Docker's embedded DNS."""

    network: Any
    containers: list[Any]

    def resolves_peer(self) -> str:
        result = self.containers[-1].exec_run(["python3", "-c", RESOLVES, self.containers[0].name])
        return f"exit {result.exit_code}: {(result.output or b'').decode(errors='replace').strip()}"

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.containers]

    def remove(self) -> None:
        while self.containers:
            self.containers.pop().remove(force=True)
        if self.network is not None:
            self.network.remove()
            self.network = None


@pytest.fixture
def docker_client() -> Iterator[Any]:
    import docker

    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        pytest.fail(f"this test needs the Docker engine (`make setup` installs and starts it): {exc}", pytrace=False)
    state = client.info()["Swarm"].get("LocalNodeState")
    if state != "inactive":
        # Initialising and leaving a swarm of its own is the test; another one is not ours to leave.
        pytest.skip(f"a swarm is {state} on this engine (`make swarm-down` first): this test initialises and leaves its own")
    yield client
    client.close()


@pytest.fixture
def bridge_pair(docker_client: Any) -> Iterator[BridgePair]:
    tag = uuid.uuid4().hex[:8]
    pair = BridgePair(docker_client.networks.create(f"stackproof-dnscheck-{tag}", driver="bridge"), [])
    try:
        for role in ("peer", "client"):
            pair.containers.append(docker_client.containers.run(
                APP_IMAGE, ["python3", "-c", "import signal; signal.pause()"], name=f"stackproof-dnscheck-{role}-{tag}",
                detach=True, network=pair.network.name, user="10001:10001", read_only=True,
                cap_drop=["ALL"], mem_limit="64m"))
        yield pair
    finally:
        pair.remove()


def test_down_keeps_the_swarm_while_a_bridge_stack_runs_and_its_dns_answers(docker_client: Any,
                                                                            bridge_pair: BridgePair) -> None:
    before = bridge_pair.resolves_peer()
    assert before.startswith("exit 0"), f"the pair must resolve its peer before any swarm: {before}"
    assert swarm.ensure_swarm(docker_client), "a swarm was initialised by this test"
    try:
        kept = swarm.down("stackproof-dnscheck")
        assert docker_client.info()["Swarm"]["LocalNodeState"] == "active", "down left the swarm with containers running"
        assert set(bridge_pair.names) <= {b.removeprefix("container ") for b in kept}, f"why the swarm was kept: {kept}"
        after = bridge_pair.resolves_peer()
        assert after.startswith("exit 0"), f"after `down`, the bridge container no longer resolves its peer: {after}"
    finally:
        bridge_pair.remove()
        left = swarm.down("stackproof-dnscheck")  # nothing runs now: leaves
    assert left == [], f"down kept the swarm with nothing running: {left}"
    assert docker_client.info()["Swarm"]["LocalNodeState"] == "inactive"
    networks = sorted(n.name for n in docker_client.networks.list() if n.name in {"ingress", "docker_gwbridge"})
    assert networks == [], f"swarm networks left behind: {networks}"
    assert swarm.down("stackproof-dnscheck") == [], "down with no swarm: nothing to do, and no error"
