"""Feed pages and the feed URL itself (/feeds/<token>.ics).

The feed URL is what calendar apps poll, hundreds of thousands of times a day for a
city: it hashes the token, reads one indexed row (columns, not an ORM object, and not the
body) and answers with a 304, or with the stored bytes: from the process's cache of
bodies by ETag (``body_cache``), else read from the database once more. An unknown and
a revoked token take the same path (hash, the same one lookup, 404).

The token is the only secret of a feed, and access logs print request paths: a
logging filter masks ``/feeds/<token>.ics`` in every record of the werkzeug, gunicorn
and app loggers (``ops/log_masks.py``, installed with the request log). Anything logging request
lines outside this process (a reverse proxy) must mask or drop the path itself.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import bindparam, func, select

from volunteer_hub import queries, submissions
from volunteer_hub.calendar import content, services
from volunteer_hub.calendar.body_cache import feed_bodies
from volunteer_hub.calendar.forms import FeedForm
from volunteer_hub.calendar.models import Feed, FeedScope
from volunteer_hub.db import BINARY_RESULTS
from volunteer_hub.errors import DomainError
from volunteer_hub.events.services import active_categories
from volunteer_hub.extensions import csrf, db
from volunteer_hub.signups.models import ACTIVE_STATUSES, Signup
from volunteer_hub.transactions import on_domain_error
from volunteer_hub.web import current_viewer, error_dict, form_errors, indented

bp = Blueprint("calendar", __name__)

CALENDAR_TYPE = "text/calendar; charset=utf-8"
#: how long a client or a private cache may reuse a body without asking again
FEED_MAX_AGE = 300


# The feed --------------------------------------------------------------------------------


@bp.route("/feeds/<token>.ics", methods=["GET", "HEAD"])
@csrf.exempt
def feed(token: str):
    token_hash = services.hash_token(token)
    row = _feed_row(token_hash)
    if row is None:
        abort(404)
    if row.etag is None:
        # Never built yet (a worker will get there too): build it now and store it.
        services.rebuild_feed(row.id)
        db.session.commit()  # on purpose: a GET commits nothing by itself (transactions.py)
        row = _feed_row(token_hash)
        if row is None:  # revoked in between
            abort(404)
    not_modified = _not_modified(row)
    body = None
    if request.method == "GET" and not not_modified:
        bodies = feed_bodies()
        body = bodies.get(row.etag)
        if body is None:
            row = _feed_body(row.id)
            if row is None:  # revoked in between
                abort(404)
            body = row.body
            bodies.put(row.etag, body)

    response = current_app.response_class(status=200, content_type=CALENDAR_TYPE)
    response.set_etag(row.etag)
    response.last_modified = row.body_changed_at
    response.cache_control.private = True
    response.cache_control.max_age = FEED_MAX_AGE
    response.headers["X-Robots-Tag"] = "noindex"
    response.headers["Referrer-Policy"] = "no-referrer"
    if not_modified:
        response.status_code = 304
    elif body is None:  # HEAD
        response.content_length = row.size
    else:
        response.set_data(body)
    return response


# Each read is one statement on a connection of its own in autocommit: no BEGIN and
# ROLLBACK around it (two of a 304's four round trips to PostgreSQL, and on SQLite no
# write lock for a read). Built once; SQLAlchemy then reuses their compiled form.
_LOOKUP = select(
    Feed.id, Feed.etag, Feed.body_changed_at, func.length(Feed.body).label("size")
).where(Feed.token_hash == bindparam("token_hash"), Feed.revoked_at.is_(None))
# In text format PostgreSQL would send the body hex-encoded, twice its size.
_BODY = (
    select(Feed.etag, Feed.body_changed_at, Feed.body)
    .where(Feed.id == bindparam("feed_id"), Feed.revoked_at.is_(None))
    .execution_options(**{BINARY_RESULTS: True})
)


def _feed_row(token_hash: str):
    """Whether the token is live, and which body is current: never the body itself."""
    return _read_one(_LOOKUP, token_hash=token_hash)


def _feed_body(feed_id: int):
    """The stored body with the ETag it goes with (it may be newer than the one just read)."""
    return _read_one(_BODY, feed_id=feed_id)


def _read_one(statement, **parameters):
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        return connection.execute(statement, parameters).first()


def _not_modified(row) -> bool:
    if request.if_none_match:
        # If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2), and compares weakly
        # (13.1.2): a proxy that compresses the feed hands the client W/"…" for our tag.
        return request.if_none_match.contains_weak(row.etag)
    since = request.if_modified_since
    return since is not None and row.body_changed_at.replace(microsecond=0) <= since


# Pages -----------------------------------------------------------------------------------


@bp.route("/calendar", methods=["GET", "POST"])
@login_required
def feeds():
    viewer = current_viewer()
    form = FeedForm()
    targets = _targets(viewer)
    form.target.choices = [(value, label) for _group, items in targets for value, label in items]
    categories = active_categories()
    form.categories.choices = [(c.id, _(c.name)) for c in categories]
    errors: dict[str, str] = {}
    if request.method == "GET":
        wanted = request.args.get("target", "")
        if any(wanted == value for value, _label in form.target.choices):
            form.target.data = wanted
    elif form.validate_on_submit():
        on_domain_error(lambda exc: _feeds_page(form, targets, viewer, _target_errors(exc)))
        scope, _sep, target_id = (form.target.data or "").partition(":")
        if not target_id.isdigit():
            raise DomainError(_("请选择订阅内容"), field="target")
        # The page with the new link answers the POST itself (the token is shown once
        # and kept nowhere), so the browser's refresh of it sends the same form again.
        if submissions.repeat_of(viewer.person_id) is not None:
            flash(
                _(
                    "这个表单已经提交过（页面被刷新或重复点击），没有再生成订阅链接。"
                    "链接只在生成时显示一次：如果没有记下，请撤销下面多余的订阅，再重新生成。"
                ),
                "info",
            )
            return redirect(url_for("calendar.feeds", target=form.target.data))
        issued = services.create_feed(scope, int(target_id), form.categories.data or [], viewer)
        submissions.led_to(url_for("calendar.feeds"))
        return _created_page(issued)
    else:
        errors = form_errors(form)
    return _feeds_page(form, targets, viewer, errors)


def _feeds_page(form: FeedForm, targets, viewer, errors: dict[str, str]):
    return (
        render_template(
            "calendar/feeds.html",
            form=form,
            targets=targets,
            feeds=_feed_rows(services.own_feeds(viewer)),
            errors=errors,
        ),
        400 if errors else 200,
    )


def _target_errors(exc: DomainError) -> dict[str, str]:
    """A refused feed as form errors: what the service says of the scope or the id is
    said of the one select that chose both."""
    errors = error_dict(exc)
    if "id" in errors or "scope" in errors:
        errors = {"target": errors.pop("id", None) or errors.pop("scope")}
    return errors


@bp.post("/calendar/<int:feed_id>/revoke")
@login_required
def revoke(feed_id: int):
    services.revoke_feed(feed_id, current_viewer())  # NotFound: the 404 page
    flash(_("已停用该订阅，原来的链接不再有效。"), "success")
    return redirect(url_for("calendar.feeds"))


@bp.post("/calendar/<int:feed_id>/reissue")
@login_required
def reissue(feed_id: int):
    issued = services.reissue_feed(feed_id, current_viewer())  # NotFound: the 404 page
    return _created_page(issued, reissued=True)


def _created_page(issued: services.IssuedFeed, reissued: bool = False):
    import segno  # only this page draws a QR code; no other request loads it

    url, webcal_url = services.subscribe_urls(issued.token, request.host_url)
    qr = segno.make(url, error="m")
    body = render_template(
        "calendar/created.html",
        url=url,
        webcal_url=webcal_url,
        qr_svg=qr.svg_inline(scale=5, border=2, dark="#000", light="#fff"),
        label=_feed_rows([issued.feed])[0]["label"],
        reissued=reissued,
    )
    response = current_app.make_response(body)
    # The token is in this page and nowhere else: not kept by any cache.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.get("/calendar/copy.js")
def copy_script():
    response = current_app.response_class(COPY_JS, mimetype="text/javascript")
    response.cache_control.public = True
    response.cache_control.max_age = 3600
    return response


#: the copy buttons of the "created" page (script-src 'self': no inline script)
COPY_JS = """(function () {
  "use strict";
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var input = document.getElementById(button.getAttribute("data-copy"));
      input.select();
      var done = function () { button.textContent = button.getAttribute("data-done"); };
      if (navigator.clipboard) {
        navigator.clipboard.writeText(input.value).then(done, function () {
          document.execCommand("copy"); done();
        });
      } else {
        document.execCommand("copy"); done();
      }
    });
  });
})();
"""


def _targets(viewer) -> list[tuple[str, list[tuple[str, str]]]]:
    """What the viewer may subscribe to, grouped: themself, teams, units (three queries)."""
    groups = [(_("我自己"), [(f"person:{viewer.person_id}", _("我报名的班次"))])]
    from volunteer_hub.teams.models import Team

    # Archived teams are not offered (their feeds, once made, keep working).
    open_teams = queries.visible_teams(viewer).where(Team.archived_at.is_(None))
    teams = list(db.session.scalars(open_teams))
    if teams:
        groups.append(
            (_("服务队"), [(f"team:{t.id}", _("%(name)s 的活动", name=t.name)) for t in teams])
        )
    units = queries.visible_units(viewer)
    if units:
        groups.append(
            (
                _("单位（含下属全部服务队）"),
                [(f"unit:{u.id}", _("%(name)s 及下属", name=name)) for u, name in indented(units)],
            )
        )
    return groups


def _feed_rows(feeds: list[Feed]) -> list[dict]:
    """Labels for a list of feeds, naming their targets with two queries in all."""
    from volunteer_hub.teams.models import Team
    from volunteer_hub.units.models import Unit

    team_ids = {f.team_id for f in feeds if f.team_id}
    unit_ids = {f.unit_id for f in feeds if f.unit_id}
    teams, units = {}, {}
    if team_ids:
        teams = dict(
            db.session.execute(select(Team.id, Team.name).where(Team.id.in_(team_ids))).all()
        )
    if unit_ids:
        units = dict(
            db.session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(unit_ids))).all()
        )
    rows = []
    for f in feeds:
        if f.scope == FeedScope.PERSON:
            label = _("我报名的班次")
        elif f.scope == FeedScope.TEAM:
            label = _("%(name)s 的活动", name=teams.get(f.team_id, ""))
        else:
            label = _("%(name)s 及下属", name=units.get(f.unit_id, ""))
        rows.append(
            {
                "feed": f,
                "label": label,
                "categories": "、".join(_(c.name) for c in f.categories),
            }
        )
    return rows


# One-event downloads -----------------------------------------------------------------------


def ics_download(body: bytes, filename: str):
    response = current_app.response_class(body, content_type=CALENDAR_TYPE)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-cache"
    return response


@bp.get("/calendar/signups/<int:signup_id>.ics")
@login_required
def signup_ics(signup_id: int):
    """The shift of one of my signups as an .ics (the link beside each shift on /me)."""
    shift_id = db.session.scalar(
        select(Signup.shift_id).where(
            Signup.id == signup_id,
            Signup.person_id == current_user.id,
            Signup.status.in_(ACTIVE_STATUSES),
        )
    )
    if shift_id is None:
        abort(404)
    return ics_download(content.single_shift_ics(shift_id), f"shift-{shift_id}.ics")
