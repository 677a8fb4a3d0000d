"""The swarm stack file, rendered from ``docker compose config`` of the real compose files (the
ones ``make swarm-up`` names): what is translated, what is reported as lost, the derived
Prometheus config, the deploy waves. ``docker compose config`` needs no daemon."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from fixtures.stack import DECLARED_LABEL
from ops.swarm import (
    LOSSES,
    Rendered,
    SwarmError,
    _service,
    relay_routes,
    render,
    replicas_rules,
    rules_for,
    waves,
)

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose"
# As `make swarm-up` renders them (offline images, the verification variant, the swarm override).
FILES = [COMPOSE / "compose.production.yaml", COMPOSE / "offline.yaml", COMPOSE / "verify.yaml", COMPOSE / "swarm.yaml"]
VERIFY_PROMETHEUS = ROOT / "build" / "verify" / "prometheus"
# The shell's value of these wins over the env file's in compose: each render sets its own.
SHELL_SETTINGS = ("COMPOSE_PROFILES", "GATEWAY_BIND", "SWARM_GATEWAY_PORT")
# Compose keys the stack file has no place for: translated (mem_limit, restart, tmpfs) or reported.
UNTRANSLATED = ("security_opt", "dns_opt", "depends_on", "mem_limit", "restart", "tmpfs")


def env_file(directory: Path, **settings: str) -> Path:
    """.env.example (placeholder values) with ``settings`` replacing its lines."""
    kept = [line for line in (ROOT / ".env.example").read_text().splitlines() if line.partition("=")[0] not in settings]
    path = directory / ".env"
    path.write_text("\n".join([*kept, *(f"{key}={value}" for key, value in settings.items())]) + "\n")
    return path


def render_stack(directory: Path, extra_files: Sequence[Path] = (), files: Sequence[Path] = FILES, profiles: str = "",
                 **settings: str) -> Rendered:
    """The real files rendered into ``directory/swarm``, with .env.example and ``settings``
    (and ``profiles`` as COMPOSE_PROFILES, as the Makefile exports it)."""
    missing = [str(p) for p in (VERIFY_PROMETHEUS / "prometheus.yml", VERIFY_PROMETHEUS / "rules") if not p.exists()]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: compose/verify.yaml mounts the verification monitoring config; "
                    "run `make verify-config`", pytrace=False)
    env = env_file(directory, **settings)
    with pytest.MonkeyPatch.context() as mp:
        for key in (*SHELL_SETTINGS, *settings):
            mp.delenv(key, raising=False)
        if profiles:
            mp.setenv("COMPOSE_PROFILES", profiles)
        return render([*files, *extra_files], env, "stackproof", directory / "swarm")


@pytest.fixture(scope="module")
def rendered_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("render")


@pytest.fixture(scope="module")
def rendered(rendered_dir: Path) -> Rendered:
    out = rendered_dir / "swarm"
    out.mkdir()
    # A world-readable copy left by an earlier render: the new one must be private all the same.
    for name in ("declared.json", "stack.yaml"):
        (out / name).write_text("{}")
        (out / name).chmod(0o644)
    return render_stack(rendered_dir)


def stack_service(rendered: Rendered, name: str) -> dict[str, Any]:
    services: dict[str, Any] = rendered.stack["services"]
    assert name in services, f"service {name!r} missing from the stack file (services: {sorted(services)})"
    return dict(services[name])


def alert_for(rules: Path, alert: str) -> str:
    """The ``for`` of ``alert`` in the rule files of ``rules``, read here independently of ops/swarm.py."""
    found = [str(rule["for"]) for path in sorted(rules.glob("*.yml"))
             for group in (yaml.safe_load(path.read_text()) or {}).get("groups") or []
             for rule in group.get("rules") or [] if rule.get("alert") == alert]
    assert len(found) == 1, f"{rules}: expected one {alert} rule, found {found}"
    return found[0]


# ----------------------------------------------------------------------------- the stack file
def test_stack_file_has_every_declared_service(rendered: Rendered) -> None:
    assert sorted(rendered.stack["services"]) == sorted(rendered.declared["services"])
    assert rendered.stack["version"] == "3.9"


def test_every_service_resolves_to_its_tasks(rendered: Rendered) -> None:
    for name, spec in rendered.stack["services"].items():
        assert spec["deploy"].get("endpoint_mode") == "dnsrr", f"{name}: deploy {spec['deploy']} is not dnsrr (no IPVS here)"


def test_backend_runs_two_replicas(rendered: Rendered) -> None:
    assert stack_service(rendered, "backend")["deploy"].get("replicas") == 2, stack_service(rendered, "backend")["deploy"]
    assert rendered.declared["x-swarm"]["replicas"] == {"backend": 2}


def test_gateway_port_is_host_mode_without_address(rendered: Rendered) -> None:
    ports = stack_service(rendered, "gateway").get("ports") or []
    declared = rendered.declared["services"]["gateway"]["ports"]
    assert len(ports) == len(declared) == 1, f"gateway: stack ports {ports}, declared {declared}"
    for port, source in zip(ports, declared, strict=True):
        assert port["mode"] == "host", f"gateway: port {port} not in host mode"
        assert isinstance(port["published"], int), f"gateway: port {port} published as {type(port['published']).__name__}"
        assert port["published"] == int(source["published"]), f"gateway: port {port}, declared {source}"
        assert "host_ip" not in port, f"gateway: port {port} carries a host address the stack file has no key for"


def test_no_untranslated_compose_key_reaches_the_stack_file(rendered: Rendered) -> None:
    declared_keys = {key for spec in rendered.declared["services"].values() for key in spec}
    # Else this test would pass for want of anything to translate.
    assert set(UNTRANSLATED) <= declared_keys, f"the compose files no longer declare {set(UNTRANSLATED) - declared_keys}"
    for name, spec in rendered.stack["services"].items():
        left = sorted(set(UNTRANSLATED) & set(spec))
        assert not left, f"{name}: stack-file service still has {left}"


def test_mem_limit_becomes_a_resources_limit(rendered: Rendered) -> None:
    limited = {n: s["mem_limit"] for n, s in rendered.declared["services"].items() if s.get("mem_limit")}
    assert "backend" in limited and "gateway" in limited, f"declared mem_limit only for {sorted(limited)}"
    for name, declared in limited.items():
        memory = ((stack_service(rendered, name)["deploy"].get("resources") or {}).get("limits") or {}).get("memory")
        assert memory == str(declared), f"{name}: deploy.resources.limits.memory {memory!r}, declared mem_limit {declared!r}"


def test_restart_becomes_a_restart_condition(rendered: Rendered) -> None:
    expected = {"unless-stopped": "any", "on-failure": "on-failure"}
    for name, spec in rendered.declared["services"].items():
        condition = (stack_service(rendered, name)["deploy"].get("restart_policy") or {}).get("condition")
        assert condition == expected[spec["restart"]], f"{name}: restart {spec['restart']!r} became condition {condition!r}"


def test_tmpfs_becomes_a_tmpfs_mount(rendered: Rendered) -> None:
    with_tmpfs = {n: s["tmpfs"] for n, s in rendered.declared["services"].items() if s.get("tmpfs")}
    assert "gateway" in with_tmpfs and "minio" in with_tmpfs, f"declared tmpfs only for {sorted(with_tmpfs)}"
    for name, paths in with_tmpfs.items():
        volumes = stack_service(rendered, name).get("volumes") or []
        for path in paths:
            assert {"type": "tmpfs", "target": path} in volumes, f"{name}: tmpfs {path} not among its mounts {volumes}"


def test_every_task_names_the_declared_config(rendered: Rendered, rendered_dir: Path) -> None:
    declared_path = rendered_dir / "swarm" / "declared.json"
    for name, spec in rendered.stack["services"].items():
        assert spec["labels"].get(DECLARED_LABEL) == str(declared_path), f"{name}: labels {spec['labels']}"
    assert json.loads(declared_path.read_text()) == rendered.declared
    assert yaml.safe_load((rendered_dir / "swarm" / "stack.yaml").read_text()) == rendered.stack


def test_credentials_files_are_private(rendered: Rendered, rendered_dir: Path) -> None:
    for name in ("declared.json", "stack.yaml"):
        path = rendered_dir / "swarm" / name
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == 0o600, f"{path}: mode {oct(mode)}, expected 0o600 (it holds the stack's credentials)"


# ---------------------------------------------------------------------- what the stack file loses
def test_no_new_privileges_reported_for_every_service_declaring_it(rendered: Rendered) -> None:
    unexpressed = rendered.declared["x-swarm"]["unexpressed"]
    declaring = [n for n, s in rendered.declared["services"].items() if s.get("security_opt")]
    assert declaring, "no service declares security_opt: nothing to report"
    for name in declaring:
        reason = unexpressed.get(name, {}).get("no_new_privileges")
        assert reason and "security_opt" in reason, f"{name}: unexpressed {unexpressed.get(name)}"


def test_no_new_privileges_not_reported_without_security_opt(tmp_path: Path) -> None:
    # Every real service declares it: drop it from one, as an operator's override would.
    override = tmp_path / "no-security-opt.yaml"
    override.write_text("services:\n  receiver:\n    security_opt: !reset []\n")
    rendered = render_stack(tmp_path, [override])
    unexpressed = rendered.declared["x-swarm"]["unexpressed"]
    assert "security_opt" not in rendered.declared["services"]["receiver"], rendered.declared["services"]["receiver"]
    assert "no_new_privileges" not in unexpressed["receiver"], f"receiver: unexpressed {unexpressed['receiver']}"
    assert "no_new_privileges" in unexpressed["gateway"], f"gateway: unexpressed {unexpressed['gateway']}"


def test_a_bound_gateway_address_is_reported(tmp_path: Path) -> None:
    rendered = render_stack(tmp_path, GATEWAY_BIND="127.0.0.1")
    assert rendered.declared["services"]["gateway"]["ports"][0]["host_ip"] == "127.0.0.1"
    reason = rendered.declared["x-swarm"]["unexpressed"]["gateway"].get("host_ip")
    assert reason and "127.0.0.1" in reason, f"gateway: unexpressed {rendered.declared['x-swarm']['unexpressed']['gateway']}"
    assert all("host_ip" not in p for p in stack_service(rendered, "gateway")["ports"]), stack_service(rendered, "gateway")


def test_the_any_address_is_not_reported(rendered: Rendered) -> None:
    assert rendered.declared["services"]["gateway"]["ports"][0]["host_ip"] == "0.0.0.0"
    gateway = rendered.declared["x-swarm"]["unexpressed"]["gateway"]
    assert "host_ip" not in gateway, f"gateway: unexpressed {gateway}"


def test_a_compose_key_without_translation_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SwarmError, match=r"gateway: compose key 'privileged' has no translation"):
        _service("gateway", {"image": "x", "privileged": True}, tmp_path / "declared.json")


def test_a_port_not_in_host_mode_is_refused(tmp_path: Path) -> None:
    spec = {"image": "x", "ports": [{"target": 5921, "published": "5921", "protocol": "tcp", "mode": "ingress"}]}
    with pytest.raises(SwarmError, match=r"gateway: port 5921 is published in 'ingress' mode"):
        _service("gateway", spec, tmp_path / "declared.json")


def test_a_service_without_losses_loses_nothing(tmp_path: Path) -> None:
    spec = {"image": "x", "mem_limit": "1024", "ports": [{"target": 80, "published": "8080", "mode": "host"}]}
    out, lost = _service("web", spec, tmp_path / "declared.json")
    assert lost == {}, f"web: lost {lost}"
    assert out["ports"] == [{"target": 80, "published": 8080, "mode": "host"}], out
    assert set(LOSSES) >= {"security_opt", "dns_opt", "depends_on"}


# ----------------------------------------------------------------------------------- Prometheus
def test_prometheus_discovers_the_backend_tasks(rendered: Rendered, rendered_dir: Path) -> None:
    source = yaml.safe_load((VERIFY_PROMETHEUS / "prometheus.yml").read_text())
    derived = yaml.safe_load((rendered_dir / "swarm" / "prometheus" / "prometheus.yml").read_text())
    source_jobs = {job["job_name"]: job for job in source["scrape_configs"]}
    derived_jobs = {job["job_name"]: job for job in derived["scrape_configs"]}
    assert list(derived_jobs) == list(source_jobs)
    backend = derived_jobs["backend"]
    assert "static_configs" not in backend, f"backend job: {backend}"
    assert backend["dns_sd_configs"] == [{"names": ["tasks.backend"], "type": "A", "port": 3847,
                                          "refresh_interval": source["global"]["scrape_interval"]}], backend
    for name, job in derived_jobs.items():
        if name != "backend":
            assert job == source_jobs[name], f"job {name}: {job}, source {source_jobs[name]}"
    assert {k: v for k, v in derived.items() if k != "scrape_configs"} == {k: v for k, v in source.items()
                                                                           if k != "scrape_configs"}


def test_prometheus_mounts_the_derived_files(rendered: Rendered, rendered_dir: Path) -> None:
    derived = rendered_dir / "swarm" / "prometheus"
    mounts = {v["target"]: v for v in stack_service(rendered, "prometheus")["volumes"]}
    assert mounts["/etc/prometheus/prometheus.yml"]["source"] == str(derived / "prometheus.yml"), mounts
    assert mounts["/etc/prometheus/rules"]["source"] == str(derived / "rules"), mounts
    # The declared config keeps what the compose files mount.
    declared = {v["target"]: v["source"] for v in rendered.declared["services"]["prometheus"]["volumes"]}
    assert declared["/etc/prometheus/rules"] == str(VERIFY_PROMETHEUS / "rules"), declared
    copied = sorted(p.name for p in (derived / "rules").glob("*.yml"))
    assert copied == sorted([*(p.name for p in (VERIFY_PROMETHEUS / "rules").glob("*.yml")), "swarm.yml"]), copied


def test_replicas_degraded_waits_as_long_as_service_down(rendered: Rendered, rendered_dir: Path) -> None:
    swarm_rules = yaml.safe_load((rendered_dir / "swarm" / "prometheus" / "rules" / "swarm.yml").read_text())
    [rule] = [r for g in swarm_rules["groups"] for r in g["rules"] if r["alert"] == "ReplicasDegraded"]
    assert rule["for"] == alert_for(VERIFY_PROMETHEUS / "rules", "ServiceDown") == "2s", rule
    production = rules_for({"backend": 2}, COMPOSE / "prometheus" / "rules")
    production_for = production["groups"][0]["rules"][0]["for"]
    assert production_for == alert_for(COMPOSE / "prometheus" / "rules", "ServiceDown") != "2s", production


def test_rules_need_a_service_down_rule(tmp_path: Path) -> None:
    with pytest.raises(SwarmError, match="no ServiceDown rule"):
        rules_for({"backend": 2}, tmp_path)


def test_the_official_profile_renders_too(tmp_path: Path) -> None:
    """Not deployable here (no registry): what can be proven without running it. The registry
    images' services, Grafana and Kibana included, translate with nothing left untranslated."""
    official = render_stack(tmp_path, files=[f for f in FILES if f.name != "offline.yaml"], profiles="official")
    services = official.stack["services"]
    assert {"grafana", "kibana", "kibana-init"} <= set(services), sorted(services)
    assert not any(key in spec for spec in services.values() for key in UNTRANSLATED), sorted(services)
    pulled = {name: spec["image"] for name, spec in services.items() if not str(spec["image"]).startswith("stackproof/")}
    assert {"mongo", "grafana", "kibana"} <= set(pulled), pulled


def test_replicas_degraded_counts_answering_targets() -> None:
    [group] = replicas_rules({"backend": 2}, "2s")["groups"]
    [rule] = [r for r in group["rules"] if r["alert"] == "ReplicasDegraded"]
    assert rule["for"] == "2s", rule
    assert rule["expr"] == 'count by (job) (up{job="backend"} == 1) < 2', rule
    assert rule["labels"] == {"severity": "warning", "service": "backend"}, rule


def test_service_down_also_fires_with_no_target_left() -> None:
    """A job discovered on tasks.NAME has no target to fail once no task is left: ServiceDown's
    own ``up == 0`` would stay silent, this one fires, labelled as production's ServiceDown."""
    [group] = replicas_rules({"backend": 2}, "2m", {"severity": "critical"})["groups"]
    [rule] = [r for r in group["rules"] if r["alert"] == "ServiceDown"]
    assert rule["expr"] == 'absent(up{job="backend"} == 1)' and rule["for"] == "2m", rule
    assert rule["labels"] == {"severity": "critical", "job": "backend"}, rule
    production = rules_for({"backend": 2}, COMPOSE / "prometheus" / "rules")
    [down] = [r for r in production["groups"][0]["rules"] if r["alert"] == "ServiceDown"]
    assert down["labels"]["severity"] == "critical" and down["for"] == alert_for(COMPOSE / "prometheus" / "rules", "ServiceDown")


# --------------------------------------------------------------------------------- deploy order
def test_waves_follow_depends_on_depth() -> None:
    services: dict[str, dict[str, Any]] = {
        "gateway": {"depends_on": {"backend": {}, "init": {}}},
        "backend": {"depends_on": {"db": {}, "init": {}}},
        "init": {"depends_on": {"db": {}}},
        "db": {},
        "cache": {"depends_on": {"not-rendered": {}}},  # a dependency outside the files is no wave
    }
    assert waves(services) == [["cache", "db"], ["init"], ["backend"], ["gateway"]]


def test_waves_refuse_a_cycle() -> None:
    services: dict[str, dict[str, Any]] = {"a": {"depends_on": {"b": {}}}, "b": {"depends_on": {"c": {}}},
                                           "c": {"depends_on": {"a": {}}}}
    with pytest.raises(SwarmError, match=r"depends_on has a cycle: a -> b -> c -> a"):
        waves(services)


def test_real_waves_start_the_backend_before_the_gateway(rendered: Rendered) -> None:
    wave_of = {name: k for k, wave in enumerate(rendered.waves) for name in wave}
    assert sorted(wave_of) == sorted(rendered.declared["services"]), rendered.waves
    for name, spec in rendered.declared["services"].items():
        for dependency in spec.get("depends_on") or {}:
            assert wave_of[dependency] < wave_of[name], f"{name} (wave {wave_of[name]}) before {dependency}: {rendered.waves}"


def test_relay_routes_only_long_running_services(rendered: Rendered) -> None:
    routes = relay_routes(rendered)
    assert sorted(routes) == list(range(20000, 20000 + len(routes))), routes
    assert {"backend:3847", "mongo:27017", "minio:9000", "minio:9001"} <= set(routes.values()), routes
    jobs = [n for n, s in rendered.declared["services"].items() if s.get("restart") == "on-failure"]
    assert jobs and not [r for r in routes.values() if r.partition(":")[0] in jobs], routes


# --------------------------------------------------------------- the rules, run by promtool
PROMETHEUS_IMAGE = f"stackproof/prometheus:{os.environ.get('STACK_TAG', 'dev')}"
STALE_AT_10S = "1x10 stale"  # answering for 10 s, then gone from discovery (a staleness marker)
PROMTOOL_TESTS = {
    "rule_files": ["/etc/prometheus/rules/swarm.yml"],
    "evaluation_interval": "1s",
    "tests": [
        {"name": "one replica of two gone: ReplicasDegraded, not ServiceDown",
         "interval": "1s",
         "input_series": [{"series": 'up{job="backend", instance="a:3847"}', "values": STALE_AT_10S},
                          {"series": 'up{job="backend", instance="b:3847"}', "values": "1x30"}],
         "alert_rule_test": [
             {"eval_time": "9s", "alertname": "ReplicasDegraded", "exp_alerts": []},
             {"eval_time": "15s", "alertname": "ReplicasDegraded", "exp_alerts": [
                 {"exp_labels": {"job": "backend", "severity": "warning", "service": "backend"},
                  "exp_annotations": {"summary": "backend: fewer than 2 replicas answer",
                                      "description": "1 of 2 backend replicas answered their last scrape."}}]},
             {"eval_time": "15s", "alertname": "ServiceDown", "exp_alerts": []}]},
        {"name": "every replica gone from discovery: ServiceDown, though no target reports up == 0",
         "interval": "1s",
         "input_series": [{"series": f'up{{job="backend", instance="{i}:3847"}}', "values": STALE_AT_10S} for i in "ab"],
         "alert_rule_test": [
             {"eval_time": "9s", "alertname": "ServiceDown", "exp_alerts": []},
             {"eval_time": "15s", "alertname": "ServiceDown", "exp_alerts": [
                 {"exp_labels": {"job": "backend", "severity": "critical"},
                  "exp_annotations": {"summary": "Job backend is down",
                                      "description": "No backend replica answered its last scrape, or none is discovered."}}]},
             {"eval_time": "15s", "alertname": "ReplicasDegraded", "exp_alerts": []}]},
    ],
}


def test_promtool_fires_the_swarm_rules_as_described(tmp_path: Path) -> None:
    """The generated rules, timed as the verification variant (2 s), under promtool: a replica
    gone is ReplicasDegraded; every replica gone from discovery is ServiceDown."""
    import docker

    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "swarm.yml").write_text(yaml.safe_dump(rules_for({"backend": 2}, VERIFY_PROMETHEUS / "rules")))
    (tmp_path / "swarm.test.yml").write_text(yaml.safe_dump(PROMTOOL_TESTS, sort_keys=False))
    tmp_path.chmod(0o755)
    for path in (rules, rules / "swarm.yml", tmp_path / "swarm.test.yml"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    client = docker.from_env()
    try:
        output = client.containers.run(PROMETHEUS_IMAGE, ["test", "rules", "/etc/prometheus/swarm.test.yml"],
                                       entrypoint="promtool", network_mode="none", remove=True,
                                       volumes={str(tmp_path): {"bind": "/etc/prometheus", "mode": "ro"}})
    except docker.errors.ContainerError as exc:
        pytest.fail(f"promtool test rules failed:\n{(exc.stderr or b'').decode(errors='replace')}", pytrace=False)
    finally:
        client.close()
    assert b"SUCCESS" in output, output.decode(errors="replace")
