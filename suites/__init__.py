"""The verification suites: one folder, one marker each (registered in pytest.ini)."""
