"""Inline SVG charts of the hour reports, drawn on the server: no script, no CDN.

Each chart is an ``<svg role="img">`` with a <title> and a <desc> that says the figures
in words, and every bar carries its number as text, so a screen reader and a reader
on a 390 px phone both get the numbers. Colours and sizes are SVG presentation
attributes (the Content-Security-Policy allows no inline CSS).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from flask_babel import gettext as _
from markupsafe import Markup, escape

WIDTH = 360
BAR = "#1f6f5c"
TEXT = "#1b1b1b"
MUTED = "#5c5c5c"
GRID = "#d0d0d0"


def hours_text(minutes: int) -> str:
    """1.5, 12, 0.25: hours without trailing zeros."""
    return f"{minutes / 60:.2f}".rstrip("0").rstrip(".")


def _svg(chart_id: str, height: int, title: str, desc: str, body: list[str]) -> Markup:
    return Markup(
        f'<svg class="chart" id="{chart_id}" role="img" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'font-family="sans-serif" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>' + "".join(body) + "</svg>"
    )


def top_teams(rows: Sequence, *, limit: int = 10, chart_id: str = "chart-teams") -> Markup:
    """Horizontal bars of the teams with most hours: the name above each bar, the hours
    at its end. ``rows`` have ``name`` and ``minutes``, most first."""
    rows = [row for row in rows if row.minutes > 0][:limit]
    title = _("服务时长前 %(n)d 名的服务队", n=len(rows))
    if not rows:
        return _svg(chart_id, 40, title, _("没有服务时长。"), [_empty(20)])
    desc = "；".join(
        _("%(name)s %(hours)s 小时", name=row.name, hours=hours_text(row.minutes)) for row in rows
    )
    top = max(row.minutes for row in rows)
    row_height, bar_height, label_width = 40, 16, 64
    body = []
    for index, row in enumerate(rows):
        y = index * row_height
        width = max(2.0, (WIDTH - label_width) * row.minutes / top)
        name = row.name if len(row.name) <= 22 else row.name[:21] + "…"
        body.append(
            f'<text x="0" y="{y + 13}" font-size="13" fill="{TEXT}">'
            f"{index + 1}. {escape(name)}</text>"
            f'<rect x="0" y="{y + 18}" width="{width:.1f}" height="{bar_height}" fill="{BAR}"/>'
            f'<text x="{width + 4:.1f}" y="{y + 31}" font-size="13" fill="{TEXT}">'
            f"{escape(_('%(hours)s 小时', hours=hours_text(row.minutes)))}</text>"
        )
    return _svg(chart_id, len(rows) * row_height + 4, title, desc, body)


def month_trend(rows: Sequence, *, chart_id: str = "chart-months") -> Markup:
    """Vertical bars, one per month of the period (zeros included), with the hours above
    each bar when there is room (twelve months or fewer), else above the highest."""
    rows = list(rows)
    title = _("每月服务时长")
    desc = "；".join(
        _(
            "%(month)s %(hours)s 小时",
            month=month_label(row.month, long=True),
            hours=hours_text(row.minutes),
        )
        for row in rows
    )
    if not rows:
        return _svg(chart_id, 40, title, _("没有服务时长。"), [_empty(20)])
    top = max(row.minutes for row in rows) or 1
    plot_top, plot_height, axis = 18, 150, 14
    height = plot_top + plot_height + axis + 31
    slot = WIDTH / len(rows)
    bar_width = max(2.0, slot * 0.7)
    label_every = 1 if len(rows) <= 12 else (3 if len(rows) <= 36 else 12)
    show_values = len(rows) <= 12
    highest = max(range(len(rows)), key=lambda i: rows[i].minutes)
    baseline = plot_top + plot_height
    body = [
        f'<line x1="0" y1="{baseline}" x2="{WIDTH}" y2="{baseline}" stroke="{GRID}" '
        f'stroke-width="1"/>'
    ]
    for index, row in enumerate(rows):
        x = index * slot + (slot - bar_width) / 2
        bar = plot_height * row.minutes / top
        if row.minutes:
            body.append(
                f'<rect x="{x:.1f}" y="{baseline - bar:.1f}" width="{bar_width:.1f}" '
                f'height="{bar:.1f}" fill="{BAR}"/>'
            )
        if show_values or (index == highest and row.minutes):
            body.append(
                f'<text x="{x + bar_width / 2:.1f}" y="{baseline - bar - 4:.1f}" font-size="11" '
                f'text-anchor="middle" fill="{TEXT}">{hours_text(row.minutes)}</text>'
            )
        if index % label_every == 0:
            body.append(
                f'<text x="{x + bar_width / 2:.1f}" y="{baseline + axis}" font-size="11" '
                f'text-anchor="middle" fill="{MUTED}">{escape(month_label(row.month))}</text>'
            )
        if index == 0 or row.month.month == 1:  # the year under its first month
            body.append(
                f'<text x="{x + bar_width / 2:.1f}" y="{baseline + axis + 13}" font-size="11" '
                f'text-anchor="middle" fill="{MUTED}">{row.month.year}</text>'
            )
    body.append(
        f'<text x="0" y="{height - 2}" font-size="11" fill="{MUTED}">'
        f"{escape(_('单位：小时'))}</text>"
    )
    return _svg(chart_id, height, title, desc, body)


def month_label(month: date, *, long: bool = False) -> str:
    if long:
        return _("%(year)d年%(month)d月", year=month.year, month=month.month)
    return _("%(month)d月", month=month.month)


def _empty(y: int) -> str:
    return f'<text x="0" y="{y}" font-size="13" fill="{MUTED}">{escape(_("没有服务时长"))}</text>'
