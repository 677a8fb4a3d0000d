"""Official profile, job `sentry-token`, run in bugsink/bugsink's own image (WORKDIR /app, where
its bugsink_conf.py is): migrate Bugsink's database on the sentry-data volume, then ensure the
full-access API token SENTRY_API_TOKEN (40 hex characters) exists, so `sentry-init` can create
the projects over the REST API and the errors suite can read events back.
Idempotent: an existing token is kept, migrations already applied are skipped.
"""

import os
import re
import sys

sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bugsink_conf")

token = os.environ.get("SENTRY_API_TOKEN", "").strip().lower()
if not re.fullmatch(r"[0-9a-f]{40}", token):
    sys.exit("sentry-token: SENTRY_API_TOKEN must be 40 hexadecimal characters (make env generates one)")

if len(os.environ.get("SECRET_KEY", "")) < 50:
    # Not fatal here (the offline image runs no deploy check), but the official image's CMD
    # runs `bugsink-manage check --deploy --fail-level WARNING`, which refuses it (W009).
    print("sentry-token: WARNING: SENTRY_SECRET_KEY is shorter than 50 characters: "
          "bugsink/bugsink refuses to start with it (make env generates 64)")

import django  # noqa: E402 (after the settings module is known)

django.setup()
from django.core.management import call_command  # noqa: E402

call_command("migrate", interactive=False, verbosity=0)
from bsmain.models import AuthToken  # noqa: E402

if AuthToken.objects.filter(token=token).exists():
    print("sentry-token: database migrated; API token present")
else:
    AuthToken.create_full_access(token=token, description="stackproof (SENTRY_API_TOKEN)")
    print("sentry-token: database migrated; API token created")
