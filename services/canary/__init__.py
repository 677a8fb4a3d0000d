"""The canary: a tracer round through every pipeline, all day (services/canary/probe.py)."""
