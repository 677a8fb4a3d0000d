"""What a bench round costs, from /proc: CPU of a process group (utime + stime of every
process in it, clock ticks) and the host's steal time, and nginx as the reference proxy."""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from harness.apps import HttpProcess
from harness.servers.base import LOOPBACK

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
ROOT = Path(__file__).resolve().parent.parent
# Where scripts/bench-tools.sh unpacks Debian's nginx (a system nginx serves too).
UNPACKED_NGINX = ROOT / "build" / "bench" / "nginx" / "usr" / "sbin" / "nginx"


def nginx_binary() -> str:
    return str(UNPACKED_NGINX) if UNPACKED_NGINX.exists() else shutil.which("nginx") or ""


def group_cpu_seconds(pgid: int) -> float:
    """utime + stime of every live process in process group ``pgid`` (a server we started
    in its own session: the group is exactly its processes)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command name (field 2) may hold spaces: split after its closing paren.
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[2]) == pgid:  # field 5, pgrp
            ticks += int(fields[11]) + int(fields[12])  # fields 14, 15: utime, stime
    return ticks / CLOCK_TICKS


def steal_seconds() -> float:
    """CPU time the hypervisor gave to others, summed over cores (/proc/stat, field steal)."""
    cpu = Path("/proc/stat").read_text().splitlines()[0].split()
    return int(cpu[8]) / CLOCK_TICKS


@dataclass(frozen=True)
class Sample:
    at: float
    proxy: float
    backend: float
    steal: float


NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {workdir}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {workdir}/body;
    proxy_temp_path {workdir}/proxy;
    fastcgi_temp_path {workdir}/fastcgi;
    uwsgi_temp_path {workdir}/uwsgi;
    scgi_temp_path {workdir}/scgi;
    upstream backend {{ server {backend}; keepalive 32; }}
    server {{
        listen {host}:{port};
        location / {{
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
    }}
}}
"""


class Nginx(HttpProcess):
    """nginx (1 worker, upstream keepalive 32) in front of ``backend`` (host:port): what a
    user would put there instead of the gateway."""

    name = "nginx"

    def __init__(self, backend: str) -> None:
        super().__init__("/api/health")
        self.backend = backend

    def _command(self) -> list[str]:
        conf = self.workdir / "nginx.conf"
        conf.write_text(NGINX_CONF.format(workdir=self.workdir, backend=self.backend, host=LOOPBACK, port=self.port))
        return [nginx_binary(), "-c", str(conf), "-p", str(self.workdir)]
