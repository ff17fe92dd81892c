"""Who changed the organisation, what, and when: one row per administrative change."""
