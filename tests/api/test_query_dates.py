"""Dates in query strings are YYYY-MM-DD: found by schemathesis, which sent ``?to=0``
and got 200 (pydantic alone reads a number as a Unix time, 1970-01-01)."""

from __future__ import annotations

import pytest

from tests.api.conftest import refused


@pytest.mark.parametrize(
    "value", ["0", "1700000000", "2026-7-1", "2026-07-01T00:00", " 2026-07-01"]
)
@pytest.mark.parametrize("path", ["/api/v1/service-records", "/api/v1/hours?group_by=team"])
def test_a_date_filter_must_be_an_iso_date(api, make, path, value):
    admin = api.as_(make.admin())
    separator = "&" if "?" in path else "?"

    errors = refused(admin.get(f"{path}{separator}to={value}"), 422)

    assert errors == {"to": "截止日期应为日期，如 2026-07-01"} or errors == {
        "to": "截止月份应为日期，如 2026-07-01"
    }


def test_an_iso_date_filter_is_accepted(api, make):
    admin = api.as_(make.admin())
    assert admin.get("/api/v1/service-records?from=2026-01-01&to=2026-12-31").status_code == 200
    response = admin.get("/api/v1/hours?group_by=month&from=2026-01-01&to=2026-12-31")
    assert response.status_code == 200
