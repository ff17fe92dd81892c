def test_healthz_reports_database_and_broker(client, app):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == "ok"
    expected_broker = "ok" if app.config["REDIS_URL"] else "in-process"
    assert body["checks"]["broker"] == expected_broker
    assert body["checks"]["redis"] == ("ok" if app.config["REDIS_URL"] else "not configured")


def test_healthz_is_503_when_the_broker_is_unreachable(client, app):
    previous = app.config["REDIS_URL"]
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    try:
        response = client.get("/healthz")
    finally:
        app.config["REDIS_URL"] = previous
    assert response.status_code == 503
    checks = response.get_json()["checks"]
    assert checks["redis"] == "error: ConnectionError"  # named, for whoever reads the 503
    assert checks["broker"].startswith("error")
    assert checks["database"] == "ok"
