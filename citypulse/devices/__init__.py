"""The device registry's commands and the broker's logins for devices and services.

``citypulse devices add|login|list`` write the registry (``citypulse.db``) and the
Mosquitto password and ACL files.
"""

from citypulse.devices._mosquitto import (
    BrokerUser,
    broker_user,
    hash_password,
    read_entries,
    verify_password,
)

__all__ = ["BrokerUser", "broker_user", "hash_password", "read_entries", "verify_password"]
