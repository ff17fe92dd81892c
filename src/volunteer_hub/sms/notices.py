"""Texts the system sends on its own when a signup or an event changes.

Receivers of the domain signals (``volunteer_hub.signals``): they run inside the
transaction that made the change and write outbox rows, so a notice exists exactly when
its change does.
"""
