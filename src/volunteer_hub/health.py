"""GET /healthz: 200 when the database and the broker answer."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from volunteer_hub.extensions import db, limiter

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@limiter.exempt
def healthz():
    checks: dict[str, str] = {}
    healthy = True
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # report, don't crash: this is what monitors poll
        checks["database"] = f"error: {type(exc).__name__}"
        healthy = False
    finally:
        db.session.rollback()
    redis_url = current_app.config.get("REDIS_URL")
    if redis_url:
        try:
            _redis_client(redis_url).ping()
            checks["broker"] = "ok"
        except Exception as exc:
            checks["broker"] = f"error: {type(exc).__name__}"
            healthy = False
    else:
        checks["broker"] = "in-process"
    return jsonify(status="ok" if healthy else "error", checks=checks), 200 if healthy else 503


_clients: dict[str, object] = {}


def _redis_client(url: str):
    import redis

    client = _clients.get(url)
    if client is None:
        client = _clients[url] = redis.Redis.from_url(
            url, socket_timeout=2, socket_connect_timeout=2
        )
    return client
