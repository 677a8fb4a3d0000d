"""`make health`: every container of the compose project, its state and health, as a table.

Exits 1 if any long-running container is not running and healthy, or if a one-shot
init job did not exit 0; 2 if the project has no containers at all. What "healthy" and
"one-shot" mean is :class:`fixtures.stack.ContainerState`'s, as everywhere in the suite.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from the Makefile

from fixtures.stack import ROLE_LABEL, ComposeStack, ContainerState, StackError


def problem(state: ContainerState) -> str:
    last = state.health_log[-1] if state.health_log else ""
    return f"{state.service}: {state.describe()}" + (f" — last check: {last[:200]}" if last else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--project", default="stackproof")
    args = parser.parse_args()
    try:
        stack = ComposeStack(args.project)
        states = stack.states()
    except StackError:
        states = []
    if not states:
        print(f"health: no containers for compose project {args.project!r}: is the stack up? (make up)")
        return 2
    rows = [(s.service, s.describe() if s.one_shot else s.status, s.health or "-", "ok" if s.ok else "FAIL",
             s.labels.get(ROLE_LABEL, "")) for s in states]
    widths = [max(len(str(r[i])) for r in rows + [("service", "state", "health", "", "server")]) for i in range(5)]
    line = "  ".join(f"{{:{w}}}" for w in widths)
    print(line.format("service", "state", "health", "", "server"))
    for row in rows:
        print(line.format(*row))
    for state in states:
        if not state.ok:
            print(f"health: {problem(state)}", file=sys.stderr)
    return 0 if all(s.ok for s in states) else 1


if __name__ == "__main__":
    sys.exit(main())
