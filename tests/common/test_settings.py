from __future__ import annotations

from pathlib import Path

import pytest

from services.common.settings import SettingsError, load_backend, load_gateway

BACKEND_ENV = {
    "MONGO_APP_USERNAME": "app_user",
    "MONGO_APP_PASSWORD": "p@ss:word/with?chars",
    "MINIO_ACCESS_KEY": "access",
    "MINIO_SECRET_KEY": "secret-value-123",
}


def test_gateway_requires_backend_url() -> None:
    with pytest.raises(SettingsError, match="BACKEND_URL is required"):
        load_gateway({})


def test_gateway_defaults() -> None:
    settings = load_gateway({"BACKEND_URL": "http://backend:3847/"})
    assert settings.port == 5921
    assert settings.backend_url == "http://backend:3847"
    assert settings.upstream_timeout == 5.0
    assert settings.max_body_bytes == 1024 * 1024
    assert settings.common.sentry_dsn is None


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(SettingsError) as caught:
        load_backend({"BACKEND_PORT": "nope", "ENABLE_FAULT_ROUTES": "maybe"})
    message = str(caught.value)
    for name in ("BACKEND_PORT", "ENABLE_FAULT_ROUTES", "MONGO_APP_USERNAME", "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY"):
        assert name in message


def test_non_positive_numbers_are_refused() -> None:
    with pytest.raises(SettingsError, match="GATEWAY_UPSTREAM_TIMEOUT"):
        load_gateway({"BACKEND_URL": "http://b", "GATEWAY_UPSTREAM_TIMEOUT": "0"})


def test_mongo_url_quotes_credentials_and_uses_auth_source() -> None:
    settings = load_backend({**BACKEND_ENV, "MONGO_HOST": "db", "MONGO_AUTH_SOURCE": "admin"})
    assert settings.mongo_url == "mongodb://app_user:p%40ss%3Aword%2Fwith%3Fchars@db:27017/ecommerce?authSource=admin"


def test_secrets_are_collected_and_not_in_repr() -> None:
    settings = load_backend(BACKEND_ENV)
    assert "secret-value-123" in settings.common.secrets
    assert "p@ss:word/with?chars" in settings.common.secrets
    assert "secret-value-123" not in repr(settings)
    assert "p@ss" not in repr(settings)


def test_fault_routes_are_off_by_default() -> None:
    assert load_backend(BACKEND_ENV).enable_fault_routes is False
    assert load_backend({**BACKEND_ENV, "ENABLE_FAULT_ROUTES": "true"}).enable_fault_routes is True


def test_sentry_dsn_from_the_file_the_sentry_role_writes(tmp_path: Path) -> None:
    dsns = tmp_path / "sentry-dsns.env"
    dsns.write_text("SENTRY_DSN_GATEWAY=http://k1@sentry:9000/1\nSENTRY_DSN_BACKEND=http://k2@sentry:9000/2\n")
    settings = load_gateway({"BACKEND_URL": "http://b", "SENTRY_DSN_FILE": str(dsns)})
    assert settings.common.sentry_dsn == "http://k1@sentry:9000/1"
    assert "http://k1@sentry:9000/1" in settings.common.secrets


def test_missing_dsn_file_fails_loudly(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="SENTRY_DSN_FILE"):
        load_gateway({"BACKEND_URL": "http://b", "SENTRY_DSN_FILE": str(tmp_path / "absent.env")})
