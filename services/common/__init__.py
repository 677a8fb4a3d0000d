"""Code shared by the gateway and the backend: settings, metrics, logs, error tracking."""

__version__ = "0.1.0"
