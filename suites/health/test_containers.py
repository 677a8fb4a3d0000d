"""Every long-running container has a healthcheck, is running and healthy, and comes back
by itself after a crash; every one-shot init job ran to exit 0.

Long-running and one-shot are told apart by the compose config the stack was started with
(an init job restarts only ``on-failure``); ``service`` and ``init_job`` are parametrized
from it (see conftest.py), so a failure names the service.
"""

from __future__ import annotations

from typing import Any

from fixtures.clients.compose import declared, service_container
from fixtures.stack import ComposeStack
from fixtures.waits import wait_for

RESTART_POLICIES = {"unless-stopped", "always"}
# A container restarted moments ago (by someone else's test) is `starting` for one
# healthcheck interval (5 s) before its first check; allow that, and not much more.
HEALTHY_WITHIN_S = 15.0


def _health_log(container: Any) -> str:
    entries = (container.attrs["State"].get("Health") or {}).get("Log") or []
    return "\n".join(f"  exit {e.get('ExitCode')}: {str(e.get('Output', '')).strip()[:300]}" for e in entries[-3:])


def test_service_declares_a_healthcheck(compose_stack: ComposeStack, service: str) -> None:
    container = service_container(compose_stack, service)
    spec = declared(compose_stack).service(service).get("healthcheck") or {}
    assert spec.get("test") and not spec.get("disable"), f"{service}: compose declares no healthcheck: {spec}"
    live = (container.attrs["Config"].get("Healthcheck") or {}).get("Test") or []
    assert live and live[0] != "NONE", f"{service}: container {container.name} runs without a healthcheck: {live}"


def test_service_is_running_and_healthy(compose_stack: ComposeStack, service: str) -> None:
    container = service_container(compose_stack, service)

    def state() -> tuple[str, str]:
        container.reload()
        return container.status, (container.attrs["State"].get("Health") or {}).get("Status", "no healthcheck")

    def hopeless() -> str | None:
        # Only `starting` may still turn healthy: anything else is the answer already.
        status, health = state()
        return None if status == "running" and health in {"starting", "healthy"} else f"{status}/{health}"

    wait_for(state, target=f"{service} ({container.name})", expectation="running/healthy",
             until=lambda seen: seen == ("running", "healthy"), timeout=HEALTHY_WITHIN_S, interval=0.5,
             abort=hopeless, context=lambda: f"last health checks:\n{_health_log(container)}")


def test_service_has_a_restart_policy(compose_stack: ComposeStack, service: str) -> None:
    container = service_container(compose_stack, service)
    policy = container.attrs["HostConfig"]["RestartPolicy"].get("Name") or "no"
    wanted = declared(compose_stack).service(service).get("restart")
    assert policy in RESTART_POLICIES, f"{service}: restart policy {policy!r}, expected one of {sorted(RESTART_POLICIES)}"
    assert policy == wanted, f"{service}: restart policy {policy!r} but the compose config declares {wanted!r}"


def test_init_job_exited_zero(compose_stack: ComposeStack, init_job: str) -> None:
    container = service_container(compose_stack, init_job)
    state = container.attrs["State"]
    assert (state["Status"], state.get("ExitCode")) == ("exited", 0), (
        f"{init_job}: {state['Status']}, exit code {state.get('ExitCode')} (OOM killed: {state.get('OOMKilled')}); "
        f"last log lines:\n{compose_stack.logs(init_job, tail=20)}"
    )


def test_every_container_belongs_to_a_declared_service(compose_stack: ComposeStack) -> None:
    # A leftover container (a renamed or removed service) runs outside every check above.
    live = set(compose_stack.services())
    orphans = live - set(declared(compose_stack).services())
    assert not orphans, f"{compose_stack.target}: containers of undeclared services: {sorted(orphans)}"
