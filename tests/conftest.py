"""Shared pytest configuration: fixtures come from the tests/fix_*.py plugin modules."""

pytest_plugins = [
    "tests.fix_db",
    "tests.fix_mqtt",
    "tests.fix_grafana",
    "tests.fix_api",
    "tests.fix_console",
]
