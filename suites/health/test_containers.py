"""Every long-running container has a healthcheck, is running and healthy, and comes back
by itself after a crash; every one-shot init job ran to exit 0.

Long-running and one-shot are told apart by the compose config the stack was started with
(:func:`fixtures.stack.is_one_shot`: restart ``on-failure`` or none); ``service`` and
``init_job`` are parametrized from it (see conftest.py), so a failure names the service.
"Healthy" is :class:`fixtures.stack.ContainerState`'s, as in the chaos gate and the report.
"""

from __future__ import annotations

from fixtures.clients.compose import declared
from fixtures.per_service import service_container
from fixtures.stack import ComposeStack, ContainerState
from fixtures.waits import wait_for

RESTART_POLICIES = {"unless-stopped", "always"}
# A container restarted moments ago (by someone else's test) is `starting` for one
# healthcheck interval (5 s) before its first check; allow that, and not much more.
HEALTHY_WITHIN_S = 15.0


def _state(stack: ComposeStack, service: str) -> ContainerState:
    """The declared service's container as it is now; a failure if there is none."""
    __tracebackhide__ = True
    return ContainerState.from_attrs(service_container(stack, service).attrs)


def test_service_declares_a_healthcheck(compose_stack: ComposeStack, service: str) -> None:
    state = _state(compose_stack, service)
    spec = declared(compose_stack).service(service).get("healthcheck") or {}
    assert spec.get("test") and not spec.get("disable"), f"{service}: compose declares no healthcheck: {spec}"
    assert state.healthcheck is not None, f"{service}: container {state.name} runs without a healthcheck"


def test_service_is_running_and_healthy(compose_stack: ComposeStack, service: str) -> None:
    first = _state(compose_stack, service)
    last = [first]

    def state() -> ContainerState:
        last[0] = _state(compose_stack, service)
        return last[0]

    def hopeless() -> str | None:
        # Only `starting` may still turn healthy: anything else is the answer already.
        now = state()
        return None if now.status == "running" and now.health in {"starting", "healthy"} else now.describe()

    wait_for(state, target=f"{service} ({first.name})", expectation="running/healthy",
             until=lambda seen: seen.healthy, timeout=HEALTHY_WITHIN_S, interval=0.5,
             abort=hopeless, context=lambda: "last health checks:\n" + "\n".join(
                 f"  {entry[:300]}" for entry in last[0].health_log[-3:]))


def test_service_has_a_restart_policy(compose_stack: ComposeStack, service: str) -> None:
    policy = _state(compose_stack, service).restart_policy
    wanted = declared(compose_stack).service(service).get("restart")
    assert policy in RESTART_POLICIES, f"{service}: restart policy {policy!r}, expected one of {sorted(RESTART_POLICIES)}"
    assert policy == wanted, f"{service}: restart policy {policy!r} but the compose config declares {wanted!r}"


def test_service_runs_its_desired_replicas(compose_stack: ComposeStack, service: str) -> None:
    running, desired = compose_stack.replicas(service)
    declared_replicas = int((declared(compose_stack).service(service).get("deploy") or {}).get("replicas") or 1)
    assert desired == declared_replicas, f"{service}: {desired} replicas wanted by the engine, {declared_replicas} declared"
    assert running == desired, f"{service}: {running} of {desired} desired replicas running and healthy"


def test_init_job_exited_zero(compose_stack: ComposeStack, init_job: str) -> None:
    state = _state(compose_stack, init_job)
    assert state.finished, (
        f"{init_job}: {state.status}, exit code {state.exit_code} (OOM killed: {state.oom_killed}); "
        f"last log lines:\n{compose_stack.logs(init_job, tail=20)}"
    )


def test_every_container_belongs_to_a_declared_service(compose_stack: ComposeStack) -> None:
    # A leftover container (a renamed or removed service) runs outside every check above.
    live = set(compose_stack.services())
    orphans = live - set(declared(compose_stack).services())
    assert not orphans, f"{compose_stack.target}: containers of undeclared services: {sorted(orphans)}"
