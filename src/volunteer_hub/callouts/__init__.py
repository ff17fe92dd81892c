"""Flood-duty call-out (应急召集): the right people texted at once, seats taken by reply,
escalating ring by ring until the shifts are full."""
