"""What the project's tests and its benchmark start on this machine: real servers standing in
for MongoDB, S3, Elasticsearch and Sentry (servers/), and the platform's own services as local
processes (apps.py). Not a pytest plugin: tests/servers/fixtures.py wraps it for the tests."""
