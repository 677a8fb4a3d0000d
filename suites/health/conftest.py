"""One test per declared service, named after it: `-k backend` runs that service's checks."""

from fixtures.per_service import parametrize_services

pytest_generate_tests = parametrize_services
