"""Each long-running container is hardened as the compose config says: non-root, no
privilege gain, no capabilities, read-only root where declared, a memory limit, rotated logs.

``service`` is parametrized from the compose config (see conftest.py). The live
``HostConfig`` is what Docker enforces, so that is what is checked; the process's uid is
read from inside the container (testinfra's docker backend), since an image may switch user.
"""

from __future__ import annotations

from typing import Any

import testinfra

from fixtures.clients.compose import declared, service_container
from fixtures.stack import ComposeStack

NO_NEW_PRIVILEGES = {"no-new-privileges", "no-new-privileges:true", "no-new-privileges=true"}
LOG_OPTIONS = {"max-size": "10m", "max-file": "3"}


def _host_config(stack: ComposeStack, service: str) -> dict[str, Any]:
    return dict(service_container(stack, service).attrs["HostConfig"])


def test_runs_as_non_root(compose_stack: ComposeStack, service: str) -> None:
    container = service_container(compose_stack, service)
    user = str(container.attrs["Config"].get("User") or "")
    assert user and user.split(":")[0] not in {"root", "0"}, f"{service}: Config.User is {user!r} (root)"
    # One exec: what a process started in the container runs as, then the main process's
    # real, effective, saved and filesystem uids. None may be 0.
    out = testinfra.get_host(f"docker://{container.id}").run("id -u && cat /proc/1/status")
    assert out.rc == 0, f"{service}: cannot read uids in {container.name}: {out}"
    exec_uid, *status = out.stdout.splitlines()
    assert exec_uid.strip() not in {"", "0"}, f"{service}: `id -u` in {container.name} is {exec_uid!r}"
    uids = next((line.split()[1:] for line in status if line.startswith("Uid:")), [])
    assert uids and "0" not in uids, f"{service}: PID 1 runs with uids {uids} ({status[:3]})"


def test_no_new_privileges(compose_stack: ComposeStack, service: str) -> None:
    options = _host_config(compose_stack, service).get("SecurityOpt") or []
    assert NO_NEW_PRIVILEGES & set(options), f"{service}: SecurityOpt {options} lacks no-new-privileges"


def test_drops_all_capabilities(compose_stack: ComposeStack, service: str) -> None:
    host_config = _host_config(compose_stack, service)
    dropped, added = host_config.get("CapDrop") or [], host_config.get("CapAdd") or []
    assert "ALL" in dropped, f"{service}: CapDrop {dropped} does not contain ALL"
    assert not added, f"{service}: CapAdd gives back {added}"


def test_root_filesystem_read_only_as_declared(compose_stack: ComposeStack, service: str) -> None:
    wanted = bool(declared(compose_stack).service(service).get("read_only"))
    live = bool(_host_config(compose_stack, service).get("ReadonlyRootfs"))
    assert live == wanted, f"{service}: ReadonlyRootfs is {live} but the compose config declares read_only: {wanted}"


def test_memory_limited_as_declared(compose_stack: ComposeStack, service: str) -> None:
    live = int(_host_config(compose_stack, service).get("Memory") or 0)
    wanted = int(declared(compose_stack).service(service).get("mem_limit") or 0)
    assert live > 0, f"{service}: no memory limit (HostConfig.Memory = {live})"
    assert live == wanted, f"{service}: memory limit {live} bytes but the compose config declares {wanted}"


def test_logs_rotated(compose_stack: ComposeStack, service: str) -> None:
    log_config = _host_config(compose_stack, service).get("LogConfig") or {}
    options = {k: v for k, v in (log_config.get("Config") or {}).items() if k in LOG_OPTIONS}
    assert (log_config.get("Type"), options) == ("json-file", LOG_OPTIONS), f"{service}: LogConfig {log_config}"
