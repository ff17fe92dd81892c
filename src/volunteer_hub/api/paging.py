"""Pages of a list answer: how many rows there are in all, and the next page's link.

A list answer carries ``total`` and ``next`` beside ``items``, ``limit`` and ``offset``
(the ``Listing`` schema). The total costs one COUNT only when the page is full: a
page shorter than ``limit`` is the last one, so its offset plus its length is the total.
"""

from __future__ import annotations

from typing import Any

from flask import request
from sqlalchemy import Select, func, select

from volunteer_hub.api.schemas import Page
from volunteer_hub.extensions import db


def page_fields(shown: int, query: Page, statement: Select) -> dict[str, Any]:
    """``limit``, ``offset``, ``total`` and ``next`` of a page of ``shown`` rows read
    with ``statement`` (the listing's query, with or without its limit and order)."""
    if shown < query.limit and (shown or not query.offset):
        total = query.offset + shown
    else:
        counted = statement.order_by(None).limit(None).offset(None).subquery()
        total = db.session.scalar(select(func.count()).select_from(counted)) or 0
    following = query.offset + query.limit
    return {
        "limit": query.limit,
        "offset": query.offset,
        "total": total,
        "next": next_link(following) if following < total else None,
    }


def next_link(offset: int) -> str:
    """This request's path and query with ``offset`` moved on (other parameters kept,
    ``from`` included)."""
    args = request.args.copy()
    args["offset"] = str(offset)
    return request.path + "?" + "&".join(_pairs(args))


def _pairs(args) -> list[str]:
    from urllib.parse import quote

    return [
        f"{quote(key, safe='')}={quote(value, safe='')}" for key, value in args.items(multi=True)
    ]
