"""GET /healthz: 200 when the database and Redis (the broker and the rate-limit store)
answer; 503 naming the one that does not."""

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
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"error: {type(exc).__name__}"
            healthy = False
        # The broker lives on that Redis; "broker" is kept for monitors that read it.
        checks["broker"] = checks["redis"]
    else:
        checks["redis"] = "not configured"
        checks["broker"] = "in-process"
    return jsonify(status="ok" if healthy else "error", checks=checks), 200 if healthy else 503


_clients: dict[str, object] = {}


def _redis_client(url: str):
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    client = _clients.get(url)
    if client is None:
        # A monitor wants a quick answer: no retries with back-off, short timeouts.
        client = _clients[url] = redis.Redis.from_url(
            url, socket_timeout=2, socket_connect_timeout=2, retry=Retry(NoBackoff(), 0)
        )
    return client
