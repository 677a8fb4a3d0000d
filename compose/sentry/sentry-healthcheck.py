"""Healthcheck of the Sentry role in bugsink/bugsink's image. Bugsink's own /health/ready
answers without touching the database (by design, its docstring says), so it stays green
with a broken or missing database. This asks the REST API instead: token lookup and project
list are database reads. Exit 0 on HTTP 200, 1 otherwise, saying what it saw."""

import os
import sys
import urllib.error
import urllib.request

url = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/api/canonical/0/projects/"
request = urllib.request.Request(url, headers={"Authorization": f"Bearer {os.environ.get('SENTRY_API_TOKEN', '')}"})
try:
    with urllib.request.urlopen(request, timeout=3) as response:
        status = response.status
except urllib.error.HTTPError as exc:
    status = exc.code
except OSError as exc:
    sys.exit(f"unhealthy: {url}: {exc}")
if status != 200:
    sys.exit(f"unhealthy: {url} answered HTTP {status}, expected 200")
