def test_healthz_reports_database_and_broker(client, app):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == "ok"
    expected_broker = "ok" if app.config["REDIS_URL"] else "in-process"
    assert body["checks"]["broker"] == expected_broker


def test_healthz_is_503_when_the_broker_is_unreachable(client, app):
    previous = app.config["REDIS_URL"]
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    try:
        response = client.get("/healthz")
    finally:
        app.config["REDIS_URL"] = previous
    assert response.status_code == 503
    assert response.get_json()["checks"]["broker"].startswith("error")
