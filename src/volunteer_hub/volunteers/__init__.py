"""Volunteers' own mobile pages: SMS-code login, my shifts, open shifts, opt-out."""
