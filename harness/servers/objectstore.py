"""Object store (S3) role: SeaweedFS ``weed mini`` with S3 signature auth.

``weed mini`` runs master, volume, filer, S3 and admin servers in one process, each with an
HTTP and a gRPC port. Bound to 0.0.0.0 it is wide open (the filer port serves bucket data
without S3 auth, the IAM gRPC port accepts unauthenticated identity changes), so every port
is chosen here and bound to 127.0.0.1; WebDAV, Iceberg and Lance are switched off.
"""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import urllib3
from minio import Minio
from minio.error import S3Error

from .base import LOOPBACK, LocalServer, find_executable, free_port_pair, free_ports, tcp_connect

# weed's admin worker dials the admin gRPC port as admin HTTP port + 10000, whatever
# -admin.port.grpc says, so the admin ports must be chosen as such a pair.
_GRPC_OFFSET = 10000
_COMPONENTS = ("master", "volume", "filer", "s3")


class ObjectStore(LocalServer):
    name = "objectstore"
    # S3Error: right after start, signed requests may race the identities being loaded.
    transient = (httpx.TransportError, OSError, urllib3.exceptions.HTTPError, S3Error)

    def __init__(
        self,
        *,
        access_key: str | None = None,
        secret_key: str | None = None,
        buckets: Sequence[str] = (),
        volume_size_limit_mb: int = 64,
        workdir: Path | None = None,
        app_actions: Sequence[str] = (),
    ) -> None:
        super().__init__(workdir)
        self.access_key = access_key or "AK" + secrets.token_hex(9).upper()
        self.secret_key = secret_key or secrets.token_urlsafe(30)
        self.buckets = tuple(buckets)
        # A second identity with these actions (e.g. "Read:ecommerce"), as the minio role's
        # entrypoint gives the backend's key; none when empty.
        self.app_actions = tuple(app_actions)
        self.app_access_key = "APP" + secrets.token_hex(8).upper()
        self.app_secret_key = secrets.token_urlsafe(30)
        self.volume_size_limit_mb = volume_size_limit_mb
        self.ports: dict[str, int] = {}
        self.data_dir = self.workdir / "data"
        self._identities = self.workdir / "s3-identities.json"
        # The admin UI is off, but its server still listens: give it a password anyway.
        self._admin_password = secrets.token_urlsafe(18)

    @property
    def port(self) -> int:  # type: ignore[override]
        """The S3 API port."""
        return self.ports.get("s3", 0)

    @property
    def endpoint(self) -> str:
        """host:port of the S3 API, as the minio client wants it."""
        return f"{LOOPBACK}:{self.ports['s3']}"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    def minio_client(self, secret_key: str | None = None) -> Minio:
        return Minio(
            self.endpoint,
            access_key=self.access_key,
            secret_key=secret_key or self.secret_key,
            secure=False,
        )

    # --- LocalServer --------------------------------------------------------------------

    def _allocate_ports(self) -> None:
        names = [f"{c}{suffix}" for c in _COMPONENTS for suffix in ("", "_grpc")]
        self.ports = dict(zip(names, free_ports(len(names)), strict=True))
        self.ports["admin"], self.ports["admin_grpc"] = free_port_pair(_GRPC_OFFSET)

    def _before_first_start(self) -> None:
        # weed mini saves its options into the data dir; a retry after a port clash must not
        # inherit the clashing ones.
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.data_dir.mkdir(parents=True)
        identities = {
            "identities": [
                {
                    "name": "stackproof",
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        if self.app_actions:
            identities["identities"].append({
                "name": "app",
                "credentials": [{"accessKey": self.app_access_key, "secretKey": self.app_secret_key}],
                "actions": list(self.app_actions),
            })
        self._identities.write_text(json.dumps(identities))
        self._identities.chmod(0o600)

    def _command(self) -> list[str]:
        p = self.ports
        argv = [
            find_executable("weed"),
            # glog writes its files to /tmp unless told otherwise.
            f"-logdir={self.workdir / 'glog'}",
            "mini",
            f"-dir={self.data_dir}",
            f"-ip={LOOPBACK}",
            f"-ip.bind={LOOPBACK}",
            f"-s3.config={self._identities}",
            "-master.telemetry=false",
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-admin.ui=false",
            f"-admin.password={self._admin_password}",
            f"-admin.port={p['admin']}",
            f"-s3.localSocket={self.workdir / 's3.sock'}",
            f"-filer.localSocket={self.workdir / 'filer.sock'}",
            # Default 1 s of "draining" heartbeats per stop: useless for a local test server.
            "-volume.preStopSeconds=0",
            f"-master.volumeSizeLimitMB={self.volume_size_limit_mb}",
        ]
        for component in _COMPONENTS:
            argv += [f"-{component}.port={p[component]}", f"-{component}.port.grpc={p[component + '_grpc']}"]
        if self.buckets:
            argv.append(f"-bucket={','.join(self.buckets)}")
        return argv

    def _env(self) -> dict[str, str]:
        (self.workdir / "glog").mkdir(exist_ok=True)
        return super()._env()

    def _probe(self) -> str:
        if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code != 200:
            return "healthz not 200"
        # The admin server comes up last: once it answers, every port is bound.
        tcp_connect(self.ports["admin"])
        # -bucket creates the buckets a moment after everything else is up.
        probe = Minio(
            self.endpoint, access_key=self.access_key, secret_key=self.secret_key, secure=False,
            http_client=urllib3.PoolManager(timeout=1.0, retries=False),
        )
        missing = set(self.buckets) - {bucket.name for bucket in probe.list_buckets()}
        return f"buckets missing: {sorted(missing)}" if missing else ""

    def _accept(self, value: Any) -> bool:
        return bool(value == "")

    def _expected(self) -> str:
        return (
            f"200 from {self.url}/healthz, the admin port {self.ports['admin']} accepting, "
            f"and a signed ListBuckets showing {list(self.buckets)}"
        )

    def _after_exit(self) -> None:
        # weed puts its gRPC unix sockets in /tmp, named by port, and removes them only on a
        # clean stop: after a kill, remove the ones our own ports produced.
        for component in (*_COMPONENTS, "admin"):
            port = self.ports.get(f"{component}_grpc")
            if port is not None:
                Path(f"/tmp/seaweedfs-{component}-grpc-{port}.sock").unlink(missing_ok=True)

    def __repr__(self) -> str:
        return f"ObjectStore(s3 port {self.ports.get('s3')}, pid={self.pid}, workdir={str(self.workdir)!r})"
