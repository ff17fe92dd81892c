"""Reminders before a shift: rows written by the minute sweep, sent through the outbox."""
