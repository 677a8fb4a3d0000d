"""Container healthcheck: ``python3 -m services.healthcheck URL`` exits 0 on a 2xx answer.

The images carry no curl; this uses only the standard library and says what it saw.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python3 -m services.healthcheck URL", file=sys.stderr)
        return 2
    try:
        with urllib.request.urlopen(argv[1], timeout=3) as response:
            return 0 if 200 <= response.status < 300 else 1
    except urllib.error.HTTPError as exc:
        print(f"unhealthy: {argv[1]} answered {exc.code}: {exc.read(300)!r}", file=sys.stderr)
    except OSError as exc:
        print(f"unhealthy: {argv[1]}: {exc}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
