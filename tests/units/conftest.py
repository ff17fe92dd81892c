"""The leader web's world (two districts, a team on each side), reused from where it lives."""

from tests.web.conftest import world  # noqa: F401 (fixture)
