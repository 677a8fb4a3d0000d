"""Error tracking through sentry_sdk. No DSN means disabled, not an error."""

from __future__ import annotations

import sentry_sdk
from sentry_sdk.integrations.logging import LoggingIntegration
from sentry_sdk.types import Event, Hint

from services.common.logs import Redactor
from services.common.settings import CommonSettings


def init(settings: CommonSettings) -> bool:
    if not settings.sentry_dsn:
        return False
    redact = Redactor(settings.secrets)

    def scrub(event: Event, hint: Hint) -> Event | None:
        # Exception messages can quote connection strings; scrub them like log lines.
        for exc in (event.get("exception") or {}).get("values") or []:
            if isinstance(exc.get("value"), str):
                exc["value"] = redact(exc["value"])
        return event

    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.environment,
        release=f"{settings.service}@{settings.version}",
        server_name=settings.service,
        before_send=scrub,
        # Error log lines stay breadcrumbs: exceptions are captured where they happen,
        # once, instead of again for every log line that mentions them.
        integrations=[LoggingIntegration(event_level=None)],
        traces_sample_rate=0.0,
    )
    sentry_sdk.set_tag("service", settings.service)
    return True
