"""The platform as a Docker Swarm stack (issue 14): what ``make swarm-up`` and ``swarm-down`` run.

    python -m ops.swarm render -f FILE... [--env-file .env]
    python -m ops.swarm up     -f FILE... [--env-file .env] [--stack NAME]
    python -m ops.swarm down   [--stack NAME]
    python -m ops.swarm status [--stack NAME]

``render`` writes build/swarm/: ``declared.json`` (``docker compose config`` of the files: the
spec the suites compare the live stack with, as for compose), ``stack.yaml`` (the same services
in the v3.9 stack-file form that ``docker stack deploy`` on Debian's 20.10 engine accepts) and
``prometheus/`` (the verification config with the backend's replicas discovered on
``tasks.backend``, and ReplicasDegraded). Nothing of the services is kept by hand: a compose
key with no translation is an error, and a key the stack file cannot carry is listed in
``x-swarm.unexpressed`` with its reason, which the security layer reports.

``up`` initialises a single-node swarm bound to loopback when none is active, then deploys in
waves by ``depends_on`` (swarm starts every service at once; each wave waits until what it
deployed is healthy, or finished for a one-shot job), then starts the relay (ops/relay.py)
through which the suites reach the overlay networks.

``down`` removes the stack and the relay, then leaves the swarm only if this module initialised
it and nothing else runs on the engine: on Debian's 20.10 engine ``docker swarm leave`` breaks
the embedded DNS of every container running on a bridge network (a compose stack's gateway no
longer resolves ``backend``), so with any container running it keeps the swarm and says why.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import yaml

from fixtures.services import listens_on
from fixtures.stack import (
    DECLARED_LABEL,
    NAMESPACE_LABEL,
    RELAY_LABEL,
    RELAY_ROUTE_LABEL,
    SWARM_SERVICE_LABEL,
    compose_config,
    is_one_shot,
    swarm_service_state,
)
from fixtures.waits import WaitFailed, wait_for

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "swarm"
DEFAULT_STACK = os.environ.get("SWARM_STACK", "stackproof")
# Debian's CLI, which speaks this engine's stack-file schema (a newer CLI accepts keys the
# 20.10 engine then ignores).
DOCKER = "/usr/bin/docker" if Path("/usr/bin/docker").exists() else "docker"
STACK_FILE_VERSION = "3.9"
INITIALISED_LABEL = "stackproof.swarm.initialised"  # node label: this module ran `swarm init`
WAVE_TIMEOUT_S = 300.0
GONE_TIMEOUT_S = 120.0
INGRESS_TIMEOUT_S = 30.0
GWBRIDGE = "docker_gwbridge"  # the bridge `swarm init` creates for overlay containers' way out
RELAY_FIRST_PORT = 20000
RELAY_MEMORY = "64m"


class SwarmError(RuntimeError):
    """The swarm or the files are not what a step needs; the message says what to do."""


@dataclass(frozen=True)
class Loss:
    """A compose key the stack file cannot carry on this engine, and why; ``setting`` is the
    policy setting (compose/policy.yaml) it weakens, if any: the security layer reports it."""

    key: str
    reason: str
    setting: str | None = None


LOSSES = {loss.key: loss for loss in (
    Loss("security_opt", "docker stack deploy on Engine 20.10 ignores security_opt ('Ignoring unsupported options: "
         "security_opt') and a swarm service there has no no-new-privileges setting: its tasks run with NoNewPrivs 0",
         "no_new_privileges"),
    Loss("dns_opt", "the v3.9 stack file has no dns_opt: tasks resolve with glibc's default timeouts (5 s x 2) "
         "where compose sets 1 s x 1"),
    Loss("pull_policy", "no stack-file key: ops/swarm.py deploys with --resolve-image never, so only local images run"),
    Loss("depends_on", "swarm starts services at once: ops/swarm.py deploys in waves instead, each once the services "
         "of the wave before are healthy (or finished, for a one-shot job)"),
    Loss("profiles", "resolved before rendering: docker compose config with the profile's COMPOSE_PROFILES"),
)}
# Keys the stack file takes as compose config writes them.
KEPT = frozenset({"image", "command", "environment", "expose", "healthcheck", "user", "read_only", "cap_drop",
                  "cap_add", "logging", "ports", "stop_grace_period", "stop_signal", "labels", "init", "sysctls",
                  "ulimits", "working_dir", "hostname", "deploy", "entrypoint"})
RESTART_CONDITION = {"unless-stopped": "any", "always": "any", "on-failure": "on-failure", "no": "none"}


# ------------------------------------------------------------------------------- render
@dataclass(frozen=True)
class Rendered:
    declared: dict[str, Any]  # docker compose config, plus x-swarm
    stack: dict[str, Any]     # the stack file
    waves: list[list[str]]    # services in deploy order, by depends_on depth

    @property
    def long_running(self) -> list[str]:
        return sorted(n for n, s in self.declared["services"].items() if not is_one_shot(s.get("restart")))


def _service(name: str, spec: dict[str, Any], declared_path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """One compose service as a stack-file service, and what it loses (key -> reason)."""
    out: dict[str, Any] = {}
    lost: dict[str, str] = {}
    deploy = copy.deepcopy(dict(spec.get("deploy") or {}))  # the declared config stays as compose wrote it
    volumes = [_volume(v) for v in spec.get("volumes") or []]
    for key, value in spec.items():
        if key in LOSSES:
            lost[key] = LOSSES[key].reason
        elif key == "mem_limit":
            deploy.setdefault("resources", {}).setdefault("limits", {})["memory"] = str(value)
        elif key == "restart":
            deploy.setdefault("restart_policy", {}).update(_restart_policy(str(value)))
        elif key == "tmpfs":
            # The short form is dropped silently by stack deploy (measured): a tmpfs mount it keeps.
            mounts, options = _tmpfs(value)
            volumes += mounts
            if options:
                lost["tmpfs"] = f"a tmpfs mount in the stack file takes a size only, not {options}"
        elif key == "networks":
            out["networks"] = sorted(value)
        elif key in KEPT and key != "ports":
            if value is not None:
                out[key] = value
        elif key not in {"volumes", "ports"}:
            raise SwarmError(f"{name}: compose key {key!r} has no translation to the stack file: add it to ops/swarm.py")
    out["ports"] = _ports(name, spec.get("ports") or [], lost)
    # No virtual IP either (IPVS again): the service name resolves to its tasks' addresses.
    deploy["endpoint_mode"] = "dnsrr"
    out["deploy"] = {k: v for k, v in deploy.items() if v not in ({}, None)}
    if not out["ports"]:
        del out["ports"]
    if volumes:
        out["volumes"] = volumes
    out["labels"] = {**(out.get("labels") or {}), DECLARED_LABEL: str(declared_path)}
    return out, lost


def _ports(name: str, ports: list[dict[str, Any]], lost: dict[str, str]) -> list[dict[str, Any]]:
    """Compose config's published ports as the stack file takes them: the port a number, and
    no host address (a swarm port binds every address of the node: recorded in ``lost``)."""
    out = [{**{k: v for k, v in p.items() if k != "host_ip"}, **({"published": int(p["published"])} if "published" in p else {})}
           for p in ports]
    bound = sorted({str(p["host_ip"]) for p in ports if p.get("host_ip") not in {None, "", "0.0.0.0"}})
    if bound:
        lost["host_ip"] = (f"a swarm port has no host address: published on every address of the node, not only on "
                           f"{', '.join(bound)} (GATEWAY_BIND); keep it off other networks with the host's firewall")
    for port in out:
        if port.get("mode") != "host":
            raise SwarmError(f"{name}: port {port.get('target')} is published in {port.get('mode')!r} mode: the routing "
                             "mesh needs IPVS, which this kernel lacks; publish it with mode: host (compose/swarm.yaml)")
    return out


def _restart_policy(restart: str) -> dict[str, Any]:
    """Compose's ``restart`` (``on-failure:3`` included) as a swarm restart policy."""
    name, _, attempts = restart.partition(":")
    return {"condition": RESTART_CONDITION[name], **({"max_attempts": int(attempts)} if attempts else {})}


def _tmpfs(paths: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """Compose's short-form tmpfs (``/tmp``, ``/run:size=64m,mode=1777``) as tmpfs mounts, and
    the options a stack file's mount cannot take."""
    mounts, dropped = [], []
    for entry in paths:
        target, _, options = str(entry).partition(":")
        mount: dict[str, Any] = {"type": "tmpfs", "target": target}
        for option in filter(None, options.split(",")):
            name, _, value = option.partition("=")
            if name == "size":
                mount["tmpfs"] = {"size": value}
            else:
                dropped.append(f"{target}:{option}")
        mounts.append(mount)
    return mounts, dropped


def _volume(entry: dict[str, Any]) -> dict[str, Any]:
    """A mount as the stack file takes it: compose config's ``bind.create_host_path`` and empty
    ``volume: {}`` have no stack-file key."""
    return {k: v for k, v in entry.items() if k not in {"bind", "volume"} or (k == "volume" and v)}


def waves(services: dict[str, dict[str, Any]]) -> list[list[str]]:
    """Services grouped by their depth in ``depends_on``: wave k holds those whose every
    dependency is in an earlier wave."""
    depth: dict[str, int] = {}

    def of(name: str, path: tuple[str, ...] = ()) -> int:
        if name in path:
            raise SwarmError(f"depends_on has a cycle: {' -> '.join((*path, name))}")
        if name not in depth:
            deps = [d for d in (services[name].get("depends_on") or {}) if d in services]
            depth[name] = 1 + max((of(d, (*path, name)) for d in deps), default=-1)
        return depth[name]

    for name in services:
        of(name)
    return [sorted(n for n, d in depth.items() if d == k) for k in range(max(depth.values(), default=-1) + 1)]


PROMETHEUS_CONFIG = "/etc/prometheus/prometheus.yml"
PROMETHEUS_RULES = "/etc/prometheus/rules"


def _bind_sources(spec: dict[str, Any]) -> dict[str, Path]:
    """A service's bind mounts: container path -> host path."""
    return {str(v["target"]): Path(str(v["source"])) for v in spec.get("volumes") or [] if v.get("type") == "bind"}


def _prometheus(spec: dict[str, Any], out: Path, replicated: dict[str, int]) -> dict[str, Path]:
    """The monitoring config the compose files mount into Prometheus (production's, or the
    verification variant), with each replicated service's job discovering its tasks on
    ``tasks.NAME`` and ReplicasDegraded watching their count: written under ``out``.
    Returns container path -> the derived file's host path, for the stack file's mounts."""
    sources = _bind_sources(spec)
    missing = [path for path in (PROMETHEUS_CONFIG, PROMETHEUS_RULES) if path not in sources]
    if missing:
        raise SwarmError(f"prometheus mounts no {', '.join(missing)}: nothing to derive the swarm's scrape config from")
    if not sources[PROMETHEUS_CONFIG].is_file() or not sources[PROMETHEUS_RULES].is_dir():
        raise SwarmError(f"prometheus mounts {sources[PROMETHEUS_CONFIG]} and {sources[PROMETHEUS_RULES]}, which are not "
                         "there: `make verify-config` writes the verification variant")
    config = yaml.safe_load(sources[PROMETHEUS_CONFIG].read_text())
    interval = config["global"]["scrape_interval"]
    for job in config["scrape_configs"]:
        if job["job_name"] in replicated:
            ports = {int(str(t).rpartition(":")[2]) for static in job.pop("static_configs") for t in static["targets"]}
            if len(ports) != 1:
                raise SwarmError(f"job {job['job_name']}: its targets use ports {sorted(ports)}; tasks.NAME needs one")
            [port] = ports
            # Refreshed as often as scraped: a replaced task is scraped within one interval.
            job["dns_sd_configs"] = [{"names": [f"tasks.{job['job_name']}"], "type": "A", "port": port,
                                      "refresh_interval": interval}]
    rules = out / "rules"
    rules.mkdir(parents=True, exist_ok=True)
    for stale in rules.glob("*.yml"):
        stale.unlink()
    for source in sorted(sources[PROMETHEUS_RULES].glob("*.yml")):
        (rules / source.name).write_text(source.read_text())
    origin = sources[PROMETHEUS_CONFIG].parent
    (out / "prometheus.yml").write_text(f"# GENERATED by ops/swarm.py from {origin}: do not edit.\n"
                                        + yaml.safe_dump(config, sort_keys=False))
    (rules / "swarm.yml").write_text(f"# GENERATED by ops/swarm.py from the replicas declared and {origin}: do not edit.\n"
                                     + yaml.safe_dump(rules_for(replicated, rules), sort_keys=False))
    return {PROMETHEUS_CONFIG: out / "prometheus.yml", PROMETHEUS_RULES: rules}


def _service_down(rules: Path) -> dict[str, Any]:
    """The ServiceDown rule of ``rules``: the swarm's rules wait as long as it does, and its
    variant for a replicated job keeps its labels (no second timing or severity to keep)."""
    for path in sorted(rules.glob("*.yml")):
        for group in (yaml.safe_load(path.read_text()) or {}).get("groups") or []:
            for rule in group.get("rules") or []:
                if rule.get("alert") == "ServiceDown":
                    return dict(rule)
    raise SwarmError(f"no ServiceDown rule in {rules}: the swarm's rules take their `for` from it")


def rules_for(replicated: dict[str, int], rules: Path) -> dict[str, Any]:
    """The swarm's rule file for the replicated services, timed like the rules in ``rules``
    (production's compose/prometheus/rules, or the verification variant's)."""
    service_down = _service_down(rules)
    return replicas_rules(replicated, str(service_down["for"]), dict(service_down.get("labels") or {}))


def replicas_rules(replicated: dict[str, int], wait: str, down_labels: dict[str, str] | None = None) -> dict[str, Any]:
    """Per replicated job: ReplicasDegraded, fewer targets answering than the replicas declared
    (every replica gone is ServiceDown's: a count of no sample is no sample); and ServiceDown
    when no replica answers at all. ServiceDown's own ``up == 0`` needs a target to fail: a job
    discovered on tasks.NAME has none once the lookup answers that no task is left (here the
    lookup timed out and Prometheus kept the old targets; a resolver that answers NXDOMAIN
    would empty the job and silence ServiceDown)."""
    rules = []
    for job, replicas in sorted(replicated.items()):
        rules.append({"alert": "ReplicasDegraded",
                      "expr": f'count by (job) (up{{job="{job}"}} == 1) < {replicas}',
                      "for": wait,
                      "labels": {"severity": "warning", "service": job},
                      "annotations": {"summary": f"{job}: fewer than {replicas} replicas answer",
                                      "description": f"{{{{ $value }}}} of {replicas} {job} replicas answered their last scrape."}})
        rules.append({"alert": "ServiceDown",
                      "expr": f'absent(up{{job="{job}"}} == 1)',
                      "for": wait,
                      "labels": {**(down_labels or {"severity": "critical"}), "job": job},
                      "annotations": {"summary": f"Job {job} is down",
                                      "description": f"No {job} replica answered its last scrape, or none is discovered."}})
    return {"groups": [{"name": "swarm", "rules": rules}]}


def render(files: list[Path], env_file: Path, stack_name: str = DEFAULT_STACK, out: Path = BUILD) -> Rendered:
    out.mkdir(parents=True, exist_ok=True)
    declared_path = out / "declared.json"
    # Compose names the networks and volumes after the project: `<stack>-swarm_backend`, never
    # the compose stack's `<stack>_backend` (a compose `up` would find an overlay of that name).
    declared = compose_config(files, env_file, os.environ.get("COMPOSE_PROFILES", ""), project=f"{stack_name}-swarm")
    services: dict[str, Any] = {}
    unexpressed: dict[str, dict[str, str]] = {}
    for name, spec in sorted(declared["services"].items()):
        services[name], lost = _service(name, spec, declared_path)
        unexpressed[name] = {(LOSSES[key].setting if key in LOSSES else None) or key: reason for key, reason in lost.items()}
    replicated = {n: int(s["deploy"]["replicas"]) for n, s in services.items() if int(s["deploy"].get("replicas", 1)) > 1}
    if "prometheus" in services:
        derived = _prometheus(declared["services"]["prometheus"], out / "prometheus", replicated)
        services["prometheus"]["volumes"] = [{**v, "source": str(derived[v["target"]])} if v["target"] in derived else v
                                             for v in services["prometheus"].get("volumes") or []]
    deploy_waves = waves(declared["services"])
    declared["x-swarm"] = {"stack": stack_name, "stack_file": str(out / "stack.yaml"), "files": [str(f) for f in files],
                           "env_file": str(env_file.resolve()), "unexpressed": unexpressed, "waves": deploy_waves,
                           "replicas": replicated}
    stack = {
        "version": STACK_FILE_VERSION,
        "services": services,
        "networks": {k: {key: v[key] for key in ("name", "driver", "internal", "attachable") if key in v}
                     for k, v in declared.get("networks", {}).items()},
        "volumes": {k: {"name": v["name"]} for k, v in declared.get("volumes", {}).items()},
    }
    # Both hold the stack's credentials (resolved from the env file): owner only, under build/.
    _write_private(declared_path, json.dumps(declared, indent=1, sort_keys=True))
    _write_private(out / "stack.yaml", yaml.safe_dump(stack, sort_keys=False))
    return Rendered(declared, stack, deploy_waves)


def _write_private(path: Path, text: str) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(text)


# ---------------------------------------------------------------------------------- up
def _client() -> Any:
    return docker.from_env()


def ensure_swarm(client: Any) -> bool:
    """A swarm this node manages: initialised on loopback (and labelled ours) when none is
    active. Returns whether this call initialised it."""
    state = client.info()["Swarm"]
    if state.get("LocalNodeState") == "active":
        if not state.get("ControlAvailable"):
            raise SwarmError("this engine is a swarm worker: deploy from a manager")
        return False
    print("swarm: initialising a single-node swarm on 127.0.0.1", flush=True)
    client.swarm.init(advertise_addr="127.0.0.1", listen_addr="127.0.0.1:2377")
    node = client.nodes.get(client.info()["Swarm"]["NodeID"])
    spec = node.attrs["Spec"]
    spec["Labels"] = {**(spec.get("Labels") or {}), INITIALISED_LABEL: "ops.swarm"}
    node.update(spec)
    # `swarm init` returns before the node has set up its ingress network's sandbox; a leave
    # in between (measured: 1.2 s after init) timed out waiting for the ingress removal and
    # left a stale `ingress` network that only a daemon restart clears.
    wait_for(lambda: _ingress_ready(client), target="this node's swarm", expectation="its ingress network set up",
             until=bool, timeout=INGRESS_TIMEOUT_S, interval=0.1, max_interval=0.5)
    return True


def _ingress_ready(client: Any) -> bool:
    bridges = client.networks.list(names=[GWBRIDGE])
    return bool(client.networks.list(names=["ingress"])) and bool(bridges) and \
        "ingress-sbox" in (client.networks.get(bridges[0].id).attrs.get("Containers") or {})


def _check_port_free(client: Any, stack_name: str, port: int) -> None:
    """A host-mode port another process holds leaves the gateway's task pending for ever."""
    if any(s.name == f"{stack_name}_gateway" for s in client.services.list()):
        return  # ours already
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("0.0.0.0", port))
        except OSError as exc:
            raise SwarmError(f"port {port} is taken ({exc.strerror}): the compose stack's gateway? `make down` first, "
                             f"or SWARM_GATEWAY_PORT=another port") from None


def _deploy(stack: dict[str, Any], services: Iterable[str], stack_name: str, path: Path, prune: bool) -> None:
    wave = {**stack, "services": {n: stack["services"][n] for n in services}}
    _write_private(path, yaml.safe_dump(wave, sort_keys=False))
    args = [DOCKER, "stack", "deploy", "--resolve-image", "never", "-c", str(path), stack_name]
    done = subprocess.run([*args, *(["--prune"] if prune else [])], check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise SwarmError(f"docker stack deploy failed: {done.stderr.strip() or done.stdout.strip()}")


def _wait_ready(client: Any, stack_name: str, rendered: Rendered, names: list[str], wave: str) -> None:
    seen: list[str] = []

    def states() -> dict[str, str]:
        found = {n: swarm_service_state(client, f"{stack_name}_{n}",
                                        is_one_shot(rendered.declared["services"][n].get("restart"))) for n in names}
        line = ", ".join(f"{n} {s}" for n, s in found.items())
        if not seen or seen[-1] != line:
            print(f"swarm: {wave}: {line}", flush=True)
            seen.append(line)
        return found

    try:
        wait_for(states, target=f"swarm stack {stack_name} ({wave})", expectation="every service ready",
                 until=lambda found: all(s in {"ready", "complete"} for s in found.values()),
                 timeout=WAVE_TIMEOUT_S, interval=1.0, max_interval=2.0)
    except WaitFailed as exc:
        raise SwarmError(f"{exc}\n  `docker stack ps {stack_name} --no-trunc` says why a task did not start") from None


def relay_routes(rendered: Rendered) -> dict[int, str]:
    """Listen port -> ``service:port``, for every port a long-running service serves on."""
    pairs = [f"{name}:{port}" for name in rendered.long_running for port in sorted(listens_on(name))]
    return {RELAY_FIRST_PORT + i: pair for i, pair in enumerate(pairs)}


def start_relay(client: Any, stack_name: str, rendered: Rendered, image: str) -> None:
    routes = relay_routes(rendered)
    labels = {RELAY_LABEL: stack_name, **{f"{RELAY_ROUTE_LABEL}{port}": pair for port, pair in routes.items()}}
    for old in client.containers.list(all=True, filters={"label": f"{RELAY_LABEL}={stack_name}"}):
        if old.status == "running" and old.labels == {**old.labels, **labels} and old.attrs["Config"]["Image"] == image:
            return  # already relaying these routes
        old.remove(force=True)
    networks = [n["name"] for n in rendered.stack["networks"].values()]
    internal = {n["name"] for n in rendered.stack["networks"].values() if n.get("internal")}
    # First a network with a route out (docker_gwbridge): the published ports go through it,
    # and a user-defined first network gives the container the embedded DNS (a container
    # created on the default bridge keeps the host's resolv.conf).
    first, *rest = sorted(networks, key=lambda n: n in internal)
    relay = client.containers.run(
        image, ["python3", "-m", "ops.relay", *(f"{port}={pair}" for port, pair in routes.items())],
        name=f"{stack_name}-swarm-relay", detach=True, labels=labels, network=first,
        ports={f"{port}/tcp": ("127.0.0.1", None) for port in routes},
        user="10001:10001", read_only=True, cap_drop=["ALL"], security_opt=["no-new-privileges:true"],
        mem_limit=RELAY_MEMORY, restart_policy={"Name": "unless-stopped"},
        log_config={"Type": "json-file", "Config": {"max-size": "10m", "max-file": "3"}},
    )
    for name in rest:
        client.networks.get(name).connect(relay)
    print(f"swarm: relay {relay.name} on {', '.join(networks)}: {len(routes)} ports on 127.0.0.1", flush=True)


def up(files: list[Path], env_file: Path, stack_name: str, image: str) -> None:
    client = _client()
    rendered = render(files, env_file, stack_name)
    ensure_swarm(client)
    gateway_ports = [int(p["published"]) for p in rendered.stack["services"].get("gateway", {}).get("ports") or []]
    for port in gateway_ports:
        _check_port_free(client, stack_name, port)
    deployed: list[str] = []
    for k, wave in enumerate(rendered.waves, 1):
        deployed += wave
        last = k == len(rendered.waves)
        _deploy(rendered.stack, deployed, stack_name, BUILD / "wave.yaml", prune=last)
        _wait_ready(client, stack_name, rendered, wave, f"wave {k}/{len(rendered.waves)}")
    reload_monitoring(client, stack_name)
    start_relay(client, stack_name, rendered, image)
    print(f"swarm: stack {stack_name} is up: {len(rendered.stack['services'])} services, gateway on "
          f"{', '.join(f'0.0.0.0:{p}' for p in gateway_ports) or 'no port'}", flush=True)


def reload_monitoring(client: Any, stack_name: str) -> None:
    """A running Prometheus or Alertmanager keeps its old config when a redeploy left its task
    in place (the mounts' paths did not change, only what they hold): tell them, as `make up` does."""
    for service in ("prometheus", "alertmanager"):
        for container in client.containers.list(filters={"label": f"{SWARM_SERVICE_LABEL}={stack_name}_{service}"}):
            container.kill(signal="SIGHUP")


# -------------------------------------------------------------------------------- down
def _labelled(client: Any, stack_name: str) -> dict[str, list[str]]:
    label = {"label": f"{NAMESPACE_LABEL}={stack_name}"}
    active = client.info()["Swarm"].get("LocalNodeState") == "active"  # services only a manager lists
    return {"services": [s.name for s in client.services.list(filters=label)] if active else [],
            # ignore_removed: swarm removes the stack's containers while they are listed (the SDK
            # inspects each one it listed: one gone in between raised NotFound).
            "containers": [c.name for c in client.containers.list(all=True, filters=label, ignore_removed=True)],
            "networks": [n.name for n in client.networks.list(filters=label)]}


def leave_blockers(client: Any) -> list[str]:
    """Why this swarm must stay: not ours, other services in it, or containers that leaving
    would cut off from their DNS (empty: leaving is safe)."""
    info = client.info()["Swarm"]
    if info.get("LocalNodeState") != "active":
        return []
    node = client.nodes.get(info["NodeID"])
    if INITIALISED_LABEL not in (node.attrs["Spec"].get("Labels") or {}):
        return ["ops.swarm did not initialise this swarm"]
    found = [f"service {s.name}" for s in client.services.list()]
    found += [f"container {c.name}" for c in client.containers.list(ignore_removed=True)]
    return found


def down(stack_name: str) -> list[str]:
    """Remove the stack and its relay; leave the swarm when safe. Returns why it was kept (if it was)."""
    client = _client()
    for relay in client.containers.list(all=True, filters={"label": f"{RELAY_LABEL}={stack_name}"}):
        relay.remove(force=True)
    if client.info()["Swarm"].get("LocalNodeState") == "active" and _labelled(client, stack_name)["services"]:
        subprocess.run([DOCKER, "stack", "rm", stack_name], check=True, capture_output=True)
    wait_for(lambda: {k: v for k, v in _labelled(client, stack_name).items() if v}, target=f"swarm stack {stack_name}",
             expectation="no service, container or network left", until=lambda left: not left,
             timeout=GONE_TIMEOUT_S, interval=0.5, max_interval=2.0)
    blockers = leave_blockers(client)
    if blockers:
        if client.info()["Swarm"].get("LocalNodeState") == "active":
            print("swarm: stack removed; the swarm stays, since leaving it would break the DNS of running containers "
                  "(Debian's 20.10 engine) or it is not ours: " + "; ".join(blockers[:8])
                  + (f"; and {len(blockers) - 8} more" if len(blockers) > 8 else ""), flush=True)
        return blockers
    if client.info()["Swarm"].get("LocalNodeState") == "active":
        client.swarm.leave(force=True)
        print("swarm: left the swarm", flush=True)
        try:
            wait_for(lambda: _swarm_leftovers(client), target="this node", expectation="no ingress network or sandbox",
                     until=lambda left: not left, timeout=INGRESS_TIMEOUT_S, interval=0.2, max_interval=1.0)
        except WaitFailed as exc:
            raise SwarmError(f"{exc}\n  the daemon timed out removing its ingress network: only a restart of dockerd "
                             "clears it") from None
    for network in client.networks.list(names=[GWBRIDGE]):
        network.reload()
        if not network.attrs.get("Containers"):
            network.remove()  # the swarm's bridge: `swarm init` made it, nothing else uses it
    return []


def _swarm_leftovers(client: Any) -> list[str]:
    """What a left swarm can leave behind: its ingress network, the ingress sandbox on the bridge."""
    found = [f"network {n.name}" for n in client.networks.list(names=["ingress"])]
    for bridge in client.networks.list(names=[GWBRIDGE]):
        found += [f"{name} on {GWBRIDGE}" for name in client.networks.get(bridge.id).attrs.get("Containers") or {}]
    return found


def status(stack_name: str) -> int:
    done = subprocess.run([DOCKER, "stack", "services", stack_name], check=False, text=True)
    return done.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.swarm", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["render", "up", "down", "status"])
    parser.add_argument("-f", "--file", dest="files", action="append", type=Path, default=[],
                        help="a compose file, in order (render, up)")
    parser.add_argument("--env-file", type=Path, default=Path(".env"))
    parser.add_argument("--stack", default=DEFAULT_STACK)
    parser.add_argument("--image", default=f"stackproof/app:{os.environ.get('STACK_TAG', 'dev')}",
                        help="the relay's image (the app image: ops/relay.py)")
    args = parser.parse_args(argv)
    try:
        if args.command in {"render", "up"} and not args.files:
            raise SwarmError(f"{args.command}: name the compose files with -f (the Makefile's SWARM_FILES)")
        if args.command == "render":
            rendered = render(args.files, args.env_file, args.stack)
            print(f"swarm: rendered {BUILD / 'stack.yaml'}: waves {rendered.waves}")
        elif args.command == "up":
            up(args.files, args.env_file, args.stack, args.image)
        elif args.command == "down":
            down(args.stack)
        else:
            return status(args.stack)
    except (SwarmError, WaitFailed, subprocess.CalledProcessError, docker.errors.DockerException) as exc:
        print(f"swarm: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
