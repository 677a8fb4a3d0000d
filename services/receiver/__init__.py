"""The alert receiver: Alertmanager's webhook target, readable by the suite."""
