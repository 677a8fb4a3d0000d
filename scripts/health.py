"""`make health`: every container of the compose project, its state and health, as a table.

Exits 1 if any long-running container is not running and healthy, or if a one-shot
init job did not exit 0; 2 if the project has no containers at all.
"""

from __future__ import annotations

import argparse
import sys

import docker


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--project", default="stackproof")
    args = parser.parse_args()
    client = docker.from_env()
    containers = client.containers.list(all=True, filters={"label": f"com.docker.compose.project={args.project}"})
    if not containers:
        print(f"health: no containers for compose project {args.project!r}: is the stack up? (make up)")
        return 2
    rows, bad = [], []
    for c in sorted(containers, key=lambda c: c.labels.get("com.docker.compose.service", c.name)):
        service = c.labels.get("com.docker.compose.service", c.name)
        state = c.attrs["State"]
        health = (state.get("Health") or {}).get("Status", "-")
        one_shot = c.attrs["HostConfig"]["RestartPolicy"]["Name"] == "on-failure"
        if one_shot:
            ok = state["Status"] == "exited" and state["ExitCode"] == 0
            detail = f"exit {state['ExitCode']}" if state["Status"] == "exited" else state["Status"]
        else:
            ok = state["Status"] == "running" and health == "healthy"
            detail = state["Status"]
        if not ok:
            last = ((state.get("Health") or {}).get("Log") or [{}])[-1].get("Output", "").strip()
            bad.append(f"{service}: {detail}, health {health}" + (f" — last check: {last[:200]}" if last else ""))
        role = c.labels.get("stackproof.role.server", "")
        rows.append((service, detail, health, "ok" if ok else "FAIL", role))
    widths = [max(len(str(r[i])) for r in rows + [("service", "state", "health", "", "server")]) for i in range(5)]
    line = "  ".join(f"{{:{w}}}" for w in widths)
    print(line.format("service", "state", "health", "", "server"))
    for row in rows:
        print(line.format(*row))
    for problem in bad:
        print(f"health: {problem}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
