"""scripts/pull-official.sh against a fake `docker` on PATH: no registry, one message, ours never pulled."""

from __future__ import annotations

import os
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "pull-official.sh"
BASE = "python:3.11-slim-bookworm"

# What `compose config --images` answers, per compose file: ours (stackproof/*) among registry
# images, and one image named by both files.
IMAGES = {
    "compose.production.yaml": ["stackproof/app:x", "mongo:7.0", "prom/prometheus:v2.53.2", "bugsink/bugsink:2.6.2"],
    "compose.development.yaml": ["stackproof/app:x", "mongo:7.0", "grafana/grafana:11.2.2", "stackproof/sentry:x"],
}
REGISTRY_IMAGES = [BASE, "mongo:7.0", "prom/prometheus:v2.53.2", "bugsink/bugsink:2.6.2", "grafana/grafana:11.2.2"]

# Records every call, answers `info`, `compose version`, `compose ... config --images` (from the
# file after -f, with COMPOSE_PROFILES checked), and `pull` as PULL says: fail (no registry) or ok.
FAKE_DOCKER = r"""#!/usr/bin/env bash
printf '%s\n' "$*" >>"$CALLS"
case $1 in
  info) exit 0 ;;
  pull) [[ $PULL == ok ]] && exit 0
        echo "Error response from daemon: Get \"https://registry-1.docker.io/v2/\": dial tcp: lookup registry-1.docker.io: no such host" >&2
        exit 1 ;;
  compose)
    [[ $2 == version ]] && { echo "Docker Compose version v2.26.1"; exit 0; }
    [[ $COMPOSE_PROFILES == official ]] || { echo "COMPOSE_PROFILES is not official" >&2; exit 3; }
    [[ -n $CONFIG_FAILS ]] && { echo "$CONFIG_FAILS" >&2; exit 15; }
    file=""; while (( $# )); do [[ $1 == -f ]] && file=$(basename "$2"); shift; done
    cat "$FAKE_DIR/$file.images"; exit 0 ;;
esac
echo "fake docker: unexpected call: $*" >&2; exit 99
"""


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str
    calls: list[list[str]]

    def pulls(self) -> list[str]:
        return [call[-1] for call in self.calls if call[0] == "pull"]


def run_script(tmp_path: Path, pull: str = "fail", config_fails: str = "",
               images: dict[str, list[str]] = IMAGES) -> Run:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(FAKE_DOCKER)
    docker.chmod(0o755)
    for file, listed in images.items():
        (tmp_path / f"{file}.images").write_text("\n".join(listed) + "\n")
    calls = tmp_path / "calls"
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER", "BASE_IMAGE", "COMPOSE_PROFILES")}
    env.update(PATH=f"{bin_dir}:{env['PATH']}", CALLS=str(calls), FAKE_DIR=str(tmp_path), PULL=pull,
               CONFIG_FAILS=config_fails, PULL_LOG=str(tmp_path / "pull.log"), PROBE_TIMEOUT="10", PULL_TIMEOUT="10")
    out = subprocess.run([str(SCRIPT)], capture_output=True, text=True, env=env, timeout=60, check=False)
    recorded = [shlex.split(line) for line in calls.read_text().splitlines()] if calls.exists() else []
    return Run(out.returncode, out.stdout, out.stderr, recorded)


def test_no_registry_fails_with_one_message_naming_the_registry_images(tmp_path: Path) -> None:
    run = run_script(tmp_path)
    assert run.code == 1, run
    lines = (run.stdout + run.stderr).strip().splitlines()
    assert len(lines) == 1, f"expected one message, got:\n{run.stdout}{run.stderr}"
    message = lines[0]
    head = f"official profile: could not pull {len(REGISTRY_IMAGES)} of {len(REGISTRY_IMAGES)} images (no registry reachable?): "
    assert message.startswith(head), message
    # Image names hold dots (v2.53.2): cut the list at its first ". " instead.
    named = message[len(head):].split(". ", 1)[0]
    assert sorted(named.split(", ")) == sorted(REGISTRY_IMAGES), message
    assert "Use STACK_IMAGES=offline to build everything here." in message
    assert "Traceback" not in run.stderr


def test_never_pulls_an_image_built_here(tmp_path: Path) -> None:
    run = run_script(tmp_path)
    assert not [image for image in run.pulls() if image.startswith("stackproof/")], run.calls
    assert sorted(run.pulls()) == sorted(REGISTRY_IMAGES), "each registry image is tried once"


def test_base_image_pulled_first(tmp_path: Path) -> None:
    """scripts/build-images.sh app comes next: its FROM must already be here."""
    run = run_script(tmp_path, pull="ok")
    assert run.pulls()[0] == BASE, run.pulls()


def test_all_pulled(tmp_path: Path) -> None:
    run = run_script(tmp_path, pull="ok")
    assert (run.code, run.stdout.strip()) == (0, f"pulled {len(REGISTRY_IMAGES)} images"), run


def test_unrenderable_compose_file_is_one_message(tmp_path: Path) -> None:
    run = run_script(tmp_path, config_fails="service sentry depends on undefined service sentry-init")
    assert run.code == 1
    assert run.stderr.strip().splitlines() == [
        ("official profile: cannot list the images of compose/compose.production.yaml:"
         " service sentry depends on undefined service sentry-init")], run.stderr
    assert run.pulls() == []


@pytest.mark.parametrize("answers", ["info", "compose version"])
def test_no_engine_or_no_compose_is_one_message(tmp_path: Path, answers: str) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    # Answers everything but `answers`.
    docker.write_text(f'#!/usr/bin/env bash\n[[ "$*" == "{answers}" ]] && exit 1\nexit 0\n')
    docker.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PULL_LOG": str(tmp_path / "pull.log")}
    env.pop("DOCKER", None)
    out = subprocess.run([str(SCRIPT)], capture_output=True, text=True, env=env, timeout=30, check=False)
    assert out.returncode == 1
    assert len(out.stderr.strip().splitlines()) == 1 and out.stderr.startswith("official profile: "), out.stderr


def test_only_images_built_here_leaves_the_base_alone(tmp_path: Path) -> None:
    only_ours = {file: ["stackproof/app:x"] for file in IMAGES}
    run = run_script(tmp_path, pull="ok", images=only_ours)
    assert (run.code, run.pulls()) == (0, [BASE]), run
