#!/bin/bash
# Healthy = Bugsink answers /health/ready AND this start's provisioning (projects + DSN
# files) has finished, so containers that wait on it find the DSNs.
set -euo pipefail
http-probe "http://127.0.0.1:${PORT:-9000}/health/ready"
if [[ ! -f /tmp/stackproof-provisioned ]]; then
    echo "unhealthy: projects/DSNs not provisioned yet" >&2
    exit 1
fi
