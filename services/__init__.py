"""The platform under test: a Starlette gateway and backend, and what they share."""
