"""Each doctor rule catches its defect in a broken snippet, and passes the good one."""
from __future__ import annotations

import copy
from typing import Any

import pytest

from fixtures.doctor import RENDERS, Facts, check
from fixtures.policy import Policy

PRODUCTION = next(p for p in RENDERS if p.production and p.images == "official")
DEVELOPMENT = next(p for p in RENDERS if not p.production and p.images == "official")
HARDENED: dict[str, Any] = {
    "restart": "unless-stopped",
    "healthcheck": {"test": ["CMD", "true"]},
    "security_opt": ["no-new-privileges:true"],
    "cap_drop": ["ALL"],
    "mem_limit": 134217728,
    "logging": {"driver": "json-file", "options": {"max-size": "10m"}},
    "user": "10001:10001",
    "read_only": True,
    "networks": {"backend": {}},
}
POLICY = Policy.parse({
    "defaults": {"user": "non-root", "read_only": True, "no_new_privileges": True, "capabilities": [],
                 "privileged": False, "logging": {"driver": "json-file", "max-size": "10m"},
                 "restart": ["unless-stopped", "always"], "networks": ["backend"], "published": []},
    "networks": {"frontend": False, "backend": True},
    "development": {"networks": ["devtools"], "publish_on": "127.0.0.1"},
    "services": {
        "gateway": {"memory_max": "128m", "networks": ["frontend", "backend"], "published": [5921]},
        "backend": {"memory_max": "128m"},
        "mongo": {"memory_max": "128m", "capabilities": ["SETUID", "SETGID"],
                  "exceptions": [{"setting": "user", "image": "mongo:", "reason": "drops privileges itself"}]},
        "kibana": {"memory_max": "128m"},
    },
})
FACTS = Facts(
    images={"mongo:7.0": {"user": "root", "drops_privileges": True, "capabilities": ["SETUID", "SETGID"]}},
    policy=POLICY, alerted_by={}, unalerted={"kibana": "UI only"}, scrape_jobs=frozenset({"gateway", "backend", "mongo"}),
)


def good() -> dict[str, Any]:
    return {"services": {
        "gateway": {**HARDENED, "image": "stackproof/app:w8", "pull_policy": "never", "ports": [{"target": 5921}],
                    "networks": {"frontend": {}, "backend": {}},
                    "depends_on": {"init": {"condition": "service_completed_successfully"}}},
        "backend": {**HARDENED, "image": "stackproof/app:w8", "pull_policy": "never"},
        "mongo": {**HARDENED, "image": "mongo:7.0", "user": None, "cap_add": ["SETGID", "SETUID"]},
        "kibana": {**HARDENED, "image": "kibana:8.15.3"},
        "init": {"image": "stackproof/app:w8", "pull_policy": "never", "restart": "on-failure"},
    }}


def rules(config: dict[str, Any], profile: Any = PRODUCTION) -> set[tuple[str, str]]:
    return {(f.service, f.rule) for f in check(config, profile, FACTS)}


def broken(service: str, **changes: Any) -> dict[str, Any]:
    config = copy.deepcopy(good())
    for key, value in changes.items():
        if value is None:
            config["services"][service].pop(key, None)
        else:
            config["services"][service][key] = value
    return config


def test_the_good_snippet_has_no_finding() -> None:
    assert rules(good()) == set()


@pytest.mark.parametrize(("service", "changes", "rule"), [
    ("gateway", {"depends_on": None}, "one-shot-awaited:init"),
    ("gateway", {"depends_on": {"init": {"condition": "service_started"}}}, "one-shot-awaited:init"),
    ("backend", {"pull_policy": None}, "built-here-never-pulled"),
    ("backend", {"pull_policy": "missing"}, "built-here-never-pulled"),
    ("backend", {"image": "grafana/grafana:latest", "pull_policy": None}, "registry-image-pinned"),
    ("backend", {"image": "grafana/grafana", "pull_policy": None}, "registry-image-pinned"),
    ("backend", {"healthcheck": None}, "healthcheck"),
    ("backend", {"healthcheck": {"disable": True}}, "healthcheck"),
    ("backend", {"restart": "always", "healthcheck": None}, "healthcheck"),
    ("backend", {"security_opt": None}, "no-new-privileges"),
    ("backend", {"cap_drop": None}, "capabilities"),
    ("backend", {"cap_add": ["ALL"]}, "capabilities"),
    ("backend", {"cap_add": ["NET_ADMIN"]}, "capabilities"),
    ("backend", {"privileged": True}, "privileged"),
    ("backend", {"mem_limit": None}, "memory-limit"),
    ("backend", {"mem_limit": "8g"}, "memory-limit"),
    ("backend", {"logging": {"driver": "json-file"}}, "log-rotation"),
    ("backend", {"restart": "always"}, None),
    ("backend", {"user": "0:0"}, "non-root"),
    ("backend", {"user": None, "image": "unknown/image:1.0", "pull_policy": None}, "non-root"),
    ("backend", {"read_only": None}, "read-only"),
    ("backend", {"ports": [{"target": 3847}]}, "published-ports"),
    ("backend", {"networks": {"backend": {}, "frontend": {}}}, "networks"),
    ("gateway", {"networks": {"backend": {}}}, "networks"),
    ("gateway", {"ports": [{"target": 5921}, {"target": 9000}]}, "published-ports"),
    ("mongo", {"user": "0"}, None),
    ("mongo", {"cap_add": ["SETGID", "SETUID", "NET_ADMIN"]}, "capabilities"),
    ("kibana", {"user": "0"}, "non-root"),
])
def test_a_rule_catches_its_defect(service: str, changes: dict[str, Any], rule: str | None) -> None:
    # "rule:other" when the finding lands on another service than the one broken; None: no finding
    if rule is None:
        assert rules(broken(service, **changes)) == set()
        return
    rule, _, flagged = rule.partition(":")
    assert (flagged or service, rule) in rules(broken(service, **changes))


def test_a_long_running_service_the_policy_does_not_list_is_a_finding() -> None:
    config = good()
    config["services"]["cache"] = {**HARDENED, "image": "redis:7.4"}
    assert ("cache", "policy-listed") in rules(config)


def test_a_service_the_policy_lists_must_be_declared() -> None:
    config = good()
    del config["services"]["kibana"]
    assert ("kibana", "policy-present") in rules(config)


def test_a_one_shot_with_restart_always_is_held_to_the_long_running_rules() -> None:
    assert ("init", "healthcheck") in rules(broken("init", restart="always"))


def test_entrypoint_capabilities_must_be_exactly_those_the_image_needs() -> None:
    mongo = {**HARDENED, "image": "mongo:7.0", "user": None}
    config = good()
    config["services"]["mongo"] = {**mongo, "cap_add": ["SETUID"]}
    assert ("mongo", "entrypoint-capabilities") in rules(config)
    config["services"]["mongo"] = {**mongo, "cap_add": ["SETUID", "SETGID", "CHOWN"]}
    assert ("mongo", "entrypoint-capabilities") in rules(config)
    config["services"]["mongo"] = {**mongo, "cap_add": ["SETGID", "SETUID"]}
    assert ("mongo", "entrypoint-capabilities") not in rules(config)


def test_development_may_publish_tool_ports_on_loopback_only() -> None:
    on_loopback = broken("backend", ports=[{"target": 3847, "host_ip": "127.0.0.1"}], networks={"backend": {}, "devtools": {}})
    assert rules(on_loopback, DEVELOPMENT) == set()
    assert ("backend", "published-ports") in rules(on_loopback, PRODUCTION)
    assert ("backend", "networks") in rules(on_loopback, PRODUCTION)
    assert ("backend", "published-ports") in rules(broken("backend", ports=[{"target": 3847}]), DEVELOPMENT)


def test_an_unscraped_service_is_unalertable_unless_listed() -> None:
    config = good()
    unlisted = Facts(FACTS.images, POLICY, {}, {}, FACTS.scrape_jobs)
    assert ("kibana", "alertable") in {(f.service, f.rule) for f in check(config, PRODUCTION, unlisted)}
    listed = FACTS
    assert ("kibana", "alertable") not in {(f.service, f.rule) for f in check(config, PRODUCTION, listed)}


def test_a_finding_names_file_service_rule_and_fix() -> None:
    [finding] = check(broken("backend", mem_limit=None), PRODUCTION, FACTS, file="compose/x.yaml")
    assert str(finding).startswith("compose/x.yaml: backend: [memory-limit] ")
