"""Tests of the real servers (harness/servers) and the pytest fixtures that start them."""
