"""One-shot set-up jobs of the stack, run from the app image with ``python -m``.

Each is idempotent and exits non-zero on failure, so compose's ``restart: on-failure``
retries it; readiness ordering comes from ``depends_on: service_healthy``.
"""
