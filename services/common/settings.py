"""Settings read from the environment.

Starlette's ``Config`` raises ``KeyError`` naming the variable when a required value is
missing; :func:`load` turns that (and a bad cast) into one :class:`SettingsError` listing
every problem at once, so a misconfigured container fails at start with a readable line.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, overload

from starlette.config import Config

from services.common import __version__

T = TypeVar("T")
D = TypeVar("D")


class SettingsError(RuntimeError):
    """One or more settings are missing or malformed."""


class _Reader:
    """Collects errors instead of stopping at the first one."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._config = Config(environ=dict(environ))
        self.errors: list[str] = []

    # A required value that is missing reads as None here; check() raises before anything uses it.
    @overload
    def get(self, key: str) -> str: ...
    @overload
    def get(self, key: str, *, default: D) -> str | D: ...
    @overload
    def get(self, key: str, cast: Callable[[str], T]) -> T: ...
    @overload
    def get(self, key: str, cast: Callable[[str], T], default: D) -> T | D: ...

    def get(self, key: str, cast: Callable[[str], Any] | None = None, default: Any = ...) -> Any:
        try:
            # Config's overloads want cast given or absent; None is its own "no cast" at run time.
            if default is ...:
                return self._config(key, cast=cast)  # type: ignore[arg-type]
            return self._config(key, cast=cast, default=default)  # type: ignore[arg-type]
        except KeyError:
            self.errors.append(f"{key} is required but not set")
        except ValueError as exc:
            self.errors.append(f"{key}: {exc}")
        return default if default is not ... else None

    def check(self, what: str) -> None:
        if self.errors:
            raise SettingsError(f"{what} settings are invalid: " + "; ".join(self.errors))


def _positive(cast: Callable[[str], T]) -> Callable[[str], T]:
    def parse(raw: str) -> T:
        value = cast(raw)
        if value <= 0:  # type: ignore[operator]
            raise ValueError(f"must be > 0, got {raw!r}")
        return value

    return parse


def _bool(raw: str | bool) -> bool:
    if isinstance(raw, bool):  # starlette casts defaults too
        return raw
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true/false, got {raw!r}")


@dataclass(frozen=True)
class ShipTiming:
    """When a service's log shipper sends, and how long one bulk request may take."""

    flush_seconds: float
    # The whole request, name lookup and connect included.
    request_timeout_seconds: float


@dataclass(frozen=True)
class CommonSettings:
    service: str
    version: str
    environment: str
    log_level: str
    sentry_dsn: str | None
    elasticsearch_url: str | None
    log_queue_size: int
    log_batch_size: int
    log_ship: ShipTiming
    secrets: tuple[str, ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class GatewaySettings:
    common: CommonSettings
    port: int
    backend_url: str
    upstream_timeout: float
    max_body_bytes: int


@dataclass(frozen=True)
class BackendSettings:
    common: CommonSettings
    port: int
    mongo_url: str = field(repr=False)
    mongo_database: str
    mongo_timeout_ms: int
    minio_endpoint: str
    minio_access_key: str = field(repr=False)
    minio_secret_key: str = field(repr=False)
    minio_bucket: str
    minio_secure: bool
    image_max_bytes: int
    enable_fault_routes: bool
    # The canary's shared secret: with it, POST /api/canary/error captures a deliberate error.
    canary_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ReceiverSettings:
    common: CommonSettings
    port: int
    max_notifications: int


# Variables whose values must never reach a log line, whichever service reads them.
SECRET_VARIABLES = (
    "MONGO_INITDB_ROOT_PASSWORD",
    "MONGO_APP_PASSWORD",
    "MONGO_URL",
    "MINIO_SECRET_KEY",
    "MINIO_ROOT_PASSWORD",
    "GRAFANA_ADMIN_PASSWORD",
    "SENTRY_SECRET_KEY",
    "MINIO_APP_SECRET_KEY",
    "SENTRY_API_TOKEN",
    "CANARY_TOKEN",
    "SENTRY_DSN",
    "ELASTICSEARCH_PASSWORD",
)


def _dsn_from_file(reader: _Reader, service: str, path: str) -> str | None:
    """``SENTRY_DSN_<SERVICE>=…`` from an env file written by the Sentry role at first start."""
    key = f"SENTRY_DSN_{service.upper()}"
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as exc:
        reader.errors.append(f"SENTRY_DSN_FILE {path}: {exc.strerror}")
        return None
    for line in lines:
        name, _, value = line.strip().partition("=")
        if name == key and value:
            return value.strip().strip('"')
    reader.errors.append(f"SENTRY_DSN_FILE {path} has no {key}")
    return None


def _ship_timing(reader: _Reader) -> ShipTiming:
    return ShipTiming(
        flush_seconds=reader.get("LOG_FLUSH_SECONDS", cast=_positive(float), default=1.0),
        request_timeout_seconds=reader.get("LOG_SHIP_TIMEOUT_SECONDS", cast=_positive(float), default=5.0),
    )


def load_ship_timing(environ: Mapping[str, str]) -> ShipTiming:
    """The log shipper's timing alone, from a service's environment (the chaos suite reads it
    from a running container to bound how late a dead search server is noticed)."""
    reader = _Reader(environ)
    timing = _ship_timing(reader)
    reader.check("log shipper")
    return timing


def _common(reader: _Reader, service: str, environ: Mapping[str, str]) -> CommonSettings:
    dsn = reader.get("SENTRY_DSN", default=None) or None
    dsn_file = reader.get("SENTRY_DSN_FILE", default=None)
    if dsn is None and dsn_file:
        dsn = _dsn_from_file(reader, service, dsn_file)
    values = {environ[name] for name in SECRET_VARIABLES if environ.get(name)} | ({dsn} if dsn else set())
    secrets = tuple(sorted(values, key=len, reverse=True))
    return CommonSettings(
        service=service,
        version=reader.get("SERVICE_VERSION", default=__version__),
        environment=reader.get("ENVIRONMENT", default=environ.get("NODE_ENV", "development")),
        log_level=reader.get("LOG_LEVEL", default="info").upper(),
        sentry_dsn=dsn,
        elasticsearch_url=reader.get("ELASTICSEARCH_URL", default=None) or None,
        log_queue_size=reader.get("LOG_QUEUE_SIZE", cast=_positive(int), default=10_000),
        log_batch_size=reader.get("LOG_BATCH_SIZE", cast=_positive(int), default=200),
        log_ship=_ship_timing(reader),
        secrets=secrets,
    )


def load_gateway(environ: Mapping[str, str] | None = None) -> GatewaySettings:
    env = os.environ if environ is None else environ
    reader = _Reader(env)
    settings = GatewaySettings(
        common=_common(reader, "gateway", env),
        port=reader.get("GATEWAY_PORT", cast=_positive(int), default=5921),
        backend_url=str(reader.get("BACKEND_URL")).rstrip("/"),
        upstream_timeout=reader.get("GATEWAY_UPSTREAM_TIMEOUT", cast=_positive(float), default=5.0),
        max_body_bytes=reader.get("GATEWAY_MAX_BODY_BYTES", cast=_positive(int), default=1024 * 1024),
    )
    reader.check("gateway")
    return settings


def load_backend(environ: Mapping[str, str] | None = None) -> BackendSettings:
    env = os.environ if environ is None else environ
    reader = _Reader(env)
    database = reader.get("MONGO_DATABASE", default="ecommerce")
    mongo_url = reader.get("MONGO_URL", default=None)
    if not mongo_url:
        from urllib.parse import quote_plus

        user = reader.get("MONGO_APP_USERNAME")
        password = reader.get("MONGO_APP_PASSWORD")
        host = reader.get("MONGO_HOST", default="mongo")
        port = reader.get("MONGO_PORT", cast=_positive(int), default=27017)
        auth_source = reader.get("MONGO_AUTH_SOURCE", default=database)
        if user and password:
            mongo_url = (
                f"mongodb://{quote_plus(user)}:{quote_plus(password)}@{host}:{port}/"
                f"{database}?authSource={auth_source}"
            )
    settings = BackendSettings(
        common=_common(reader, "backend", env),
        port=reader.get("BACKEND_PORT", cast=_positive(int), default=3847),
        mongo_url=mongo_url or "",
        mongo_database=database,
        mongo_timeout_ms=reader.get("MONGO_TIMEOUT_MS", cast=_positive(int), default=2000),
        minio_endpoint=reader.get("MINIO_ENDPOINT", default="minio:9000"),
        minio_access_key=reader.get("MINIO_ACCESS_KEY"),
        minio_secret_key=reader.get("MINIO_SECRET_KEY"),
        minio_bucket=reader.get("MINIO_BUCKET", default="ecommerce"),
        minio_secure=reader.get("MINIO_SECURE", cast=_bool, default=False),
        image_max_bytes=reader.get("IMAGE_MAX_BYTES", cast=_positive(int), default=5 * 1024 * 1024),
        enable_fault_routes=reader.get("ENABLE_FAULT_ROUTES", cast=_bool, default=False),
        canary_token=reader.get("CANARY_TOKEN", default=None) or None,
    )
    reader.check("backend")
    return settings


def load_receiver(environ: Mapping[str, str] | None = None) -> ReceiverSettings:
    env = os.environ if environ is None else environ
    reader = _Reader(env)
    settings = ReceiverSettings(
        common=_common(reader, "receiver", env),
        port=reader.get("RECEIVER_PORT", cast=_positive(int), default=9097),
        max_notifications=reader.get("RECEIVER_MAX_NOTIFICATIONS", cast=_positive(int), default=10_000),
    )
    reader.check("receiver")
    return settings


@dataclass(frozen=True)
class EdgeSettings:
    """Bounds on a request head, enforced by ``services.common.edge`` before any app sees it."""

    head_timeout: float  # seconds from a request's first byte (or the connection) to its blank line
    max_head_bytes: int  # request line plus header block


def load_edge(environ: Mapping[str, str] | None = None) -> EdgeSettings:
    env = os.environ if environ is None else environ
    reader = _Reader(env)
    settings = EdgeSettings(
        head_timeout=reader.get("EDGE_HEAD_TIMEOUT", cast=_positive(float), default=10.0),
        # Node's and nginx's usual bound: far above any browser's head, far below a DoS buffer.
        max_head_bytes=reader.get("EDGE_MAX_HEAD_BYTES", cast=_positive(int), default=16 * 1024),
    )
    reader.check("edge")
    return settings


@dataclass(frozen=True)
class CanarySettings:
    """The canary (services/canary): where its rounds go and how often."""

    port: int
    interval: float  # seconds from one round's start to the next
    timeout: float  # a round's bound: a pipeline not seen by then failed
    gateway_url: str
    elasticsearch_url: str
    prometheus_url: str
    canary_token: str = field(repr=False)
    sentry_url: str  # the bundled role (Bugsink), or your own Sentry's API with sentry_org
    sentry_api_token: str = field(repr=False)
    sentry_org: str | None
    sentry_project: str
    log_level: str


def load_canary(environ: Mapping[str, str] | None = None) -> CanarySettings:
    env = os.environ if environ is None else environ
    reader = _Reader(env)
    settings = CanarySettings(
        port=reader.get("CANARY_PORT", cast=_positive(int), default=9464),
        interval=reader.get("CANARY_INTERVAL", cast=_positive(float), default=30.0),
        timeout=reader.get("CANARY_TIMEOUT", cast=_positive(float), default=45.0),
        gateway_url=str(reader.get("GATEWAY_URL", default="http://gateway:5921")).rstrip("/"),
        elasticsearch_url=reader.get("ELASTICSEARCH_URL", default="http://elasticsearch:9200"),
        prometheus_url=str(reader.get("PROMETHEUS_URL", default="http://prometheus:9090")).rstrip("/"),
        canary_token=reader.get("CANARY_TOKEN"),
        sentry_url=reader.get("SENTRY_API_URL", default="") or reader.get("SENTRY_URL", default="http://sentry:9000"),
        sentry_api_token=reader.get("SENTRY_API_TOKEN"),
        sentry_org=reader.get("SENTRY_ORG", default=None) or None,
        sentry_project=reader.get("SENTRY_PROJECT", default="backend"),
        log_level=reader.get("LOG_LEVEL", default="info").upper(),
    )
    reader.check("canary")
    return settings
