"""MongoDB role: SecantusDB (WiredTiger, MongoDB wire protocol) with SCRAM auth.

SecantusDB only accepts ``createUser`` while it runs without ``--auth``, so the first start
provisions users on an unauthenticated run bound to 127.0.0.1 and stops it cleanly, then
every start runs with ``--auth``.

authSource: the app user is created in the ``ecommerce`` database itself (as a mongo
``docker-entrypoint-initdb.d`` script would), so its URI ``.../ecommerce`` authenticates with
the default authSource (the URI's database); ``authSource=admin`` is refused for it. Both
placements work on SecantusDB 0.7; this one keeps the app user's scope visible in its URI.
"""

from __future__ import annotations

import json
import secrets
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import quote_plus

import pymongo
from pymongo.errors import ConnectionFailure

from .base import LOOPBACK, LocalServer, ServerError, find_executable, free_port

_MARKER = "stackproof-users.json"


def _password() -> str:
    return secrets.token_urlsafe(18)


@dataclass(frozen=True)
class MongoCredentials:
    root_user: str = "root"
    root_password: str = field(default_factory=_password)
    app_user: str = "ecommerce_app"
    app_password: str = field(default_factory=_password)
    database: str = "ecommerce"


class MongoServer(LocalServer):
    name = "mongo"
    transient = (ConnectionFailure, OSError)

    def __init__(
        self,
        *,
        credentials: MongoCredentials | None = None,
        port: int | None = None,
        cache_size: str = "256M",
        standalone: bool = True,
        seed_dir: Path | None = None,
        workdir: Path | None = None,
    ) -> None:
        super().__init__(workdir)
        self.host = LOOPBACK
        self.port = port or 0
        self.caller_chose_ports = port is not None
        self.credentials = credentials or MongoCredentials()
        self.cache_size = cache_size
        # --standalone: drivers see a plain standalone, not a one-node replica set "secantus".
        self.standalone = standalone
        self.seed_dir = seed_dir
        self.data_dir = self.workdir / "data"
        # An empty config file: passing --config turns off the launcher's auto-discovery of
        # ./secantusd.toml, ~/.secantus/ and /etc/secantus/, which would make runs depend on
        # the machine.
        self._config = self.workdir / "secantusd.toml"

    @classmethod
    def from_seed(cls, seed_dir: Path, **kwargs: object) -> MongoServer:
        """A server whose data dir starts as a copy of a provisioned (stopped) data dir."""
        marker = seed_dir / _MARKER
        if not marker.exists():
            raise ServerError(f"{seed_dir} is not a provisioned SecantusDB data dir (no {_MARKER})")
        credentials = MongoCredentials(**json.loads(marker.read_text()))
        return cls(credentials=credentials, seed_dir=seed_dir, **kwargs)  # type: ignore[arg-type]

    # --- credentials and URIs -----------------------------------------------------------

    @property
    def root_user(self) -> str:
        return self.credentials.root_user

    @property
    def root_password(self) -> str:
        return self.credentials.root_password

    @property
    def app_user(self) -> str:
        return self.credentials.app_user

    @property
    def app_password(self) -> str:
        return self.credentials.app_password

    @property
    def database(self) -> str:
        return self.credentials.database

    @property
    def root_uri(self) -> str:
        user, password = quote_plus(self.root_user), quote_plus(self.root_password)
        return f"mongodb://{user}:{password}@{self.host}:{self.port}/?authSource=admin"

    @property
    def app_uri(self) -> str:
        user, password = quote_plus(self.app_user), quote_plus(self.app_password)
        db = self.database
        return f"mongodb://{user}:{password}@{self.host}:{self.port}/{db}?authSource={db}"

    def client(self, uri: str | None = None, timeout_ms: int = 5000) -> pymongo.MongoClient[dict[str, object]]:
        """A pymongo client (app user by default) that fails fast when the server is down."""
        return pymongo.MongoClient(
            uri or self.app_uri,
            serverSelectionTimeoutMS=timeout_ms,
            connectTimeoutMS=timeout_ms,
        )

    def provision(self) -> Path:
        """Create the users without serving with --auth; the server is left stopped.

        Returns the data dir, usable as ``seed_dir`` of other instances (same credentials).
        """
        if self.running:
            raise ServerError("provision() is for a server that has not been started")
        self._allocate_ports()
        self._before_first_start()
        return self.data_dir

    def snapshot(self, dest: Path) -> Path:
        """Copy the provisioned data dir (server stopped: WiredTiger files are then consistent)."""
        if self.running:
            raise ServerError("snapshot needs a stopped server: a live WiredTiger dir is not consistent")
        if not (self.data_dir / _MARKER).exists():
            raise ServerError("snapshot needs a provisioned data dir: start the server once first")
        shutil.copytree(self.data_dir, dest)
        return dest

    # --- LocalServer --------------------------------------------------------------------

    def _allocate_ports(self) -> None:
        if not self.caller_chose_ports:
            self.port = free_port()

    def _command(self, auth: bool = True) -> list[str]:
        argv = [
            find_executable("secantusd-py"),
            "--config", str(self._config),
            "--host", self.host,
            "--port", str(self.port),
            "--storage-path", str(self.data_dir),
            "--cache-size", self.cache_size,
        ]
        if self.standalone:
            argv.append("--standalone")
        if auth:
            argv.append("--auth")
        return argv

    def _probe(self) -> dict[str, object]:
        # hello needs no authentication, even under --auth.
        client: pymongo.MongoClient[dict[str, object]]
        with pymongo.MongoClient(
            host=self.host,
            port=self.port,
            directConnection=True,
            serverSelectionTimeoutMS=500,
            connectTimeoutMS=500,
        ) as client:
            reply: dict[str, object] = client.admin.command("hello")
            return reply

    def _expected(self) -> str:
        return f"a hello reply on {self.host}:{self.port}"

    def _before_first_start(self) -> None:
        self._config.touch()
        if (self.data_dir / _MARKER).exists():
            return
        shutil.rmtree(self.data_dir, ignore_errors=True)
        if self.seed_dir is not None:
            shutil.copytree(self.seed_dir, self.data_dir)
            return
        self._provision()

    def _provision(self) -> None:
        self._spawn(self._command(auth=False), self._env())
        try:
            self._wait_ready()
            creds = self.credentials
            client: pymongo.MongoClient[dict[str, object]]
            with pymongo.MongoClient(host=self.host, port=self.port, directConnection=True) as client:
                client.admin.command(
                    "createUser", creds.root_user, pwd=creds.root_password,
                    roles=[{"role": "root", "db": "admin"}],
                )
                client[creds.database].command(
                    "createUser", creds.app_user, pwd=creds.app_password,
                    roles=[{"role": "readWrite", "db": creds.database}],
                )
        except BaseException:
            self.kill()
            raise
        # A clean stop makes WiredTiger checkpoint the users before --auth needs them.
        returncode = self.stop()
        if returncode != 0:
            raise ServerError(f"provisioning run of {self.name} exited with {returncode}; see {self.log_path}")
        (self.data_dir / _MARKER).write_text(json.dumps(asdict(self.credentials)))

    def __repr__(self) -> str:
        return f"MongoServer({self.host}:{self.port}, pid={self.pid}, workdir={str(self.workdir)!r})"
