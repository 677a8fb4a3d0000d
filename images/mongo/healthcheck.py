#!/opt/venv/bin/python3
"""Healthcheck of the mongo role: `ping` on 127.0.0.1:27017 (allowed without credentials)."""
import sys

from pymongo import MongoClient
from pymongo.errors import PyMongoError

try:
    client = MongoClient("mongodb://127.0.0.1:27017/?directConnection=true",
                         serverSelectionTimeoutMS=3000, connectTimeoutMS=3000)
    client.admin.command("ping")
except PyMongoError as exc:
    print(f"unhealthy: ping on 127.0.0.1:27017 failed: {exc}", file=sys.stderr)
    sys.exit(1)
