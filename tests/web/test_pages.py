"""Login, logout, the error pages, the language switch and the security of the pages."""

from __future__ import annotations

from tests.conftest import login
from tests.web.conftest import page


def test_login_page_renders_in_chinese_with_labelled_inputs(client):
    response = client.get("/login")
    assert response.status_code == 200
    html = page(response)
    assert '<html lang="zh-CN">' in html
    assert "手机号码" in html and "密码" in html
    assert 'for="phone"' in html and 'id="phone"' in html
    assert 'for="password"' in html and 'id="password"' in html
    assert "/static/app.css" in html and "/static/app.js" in html
    # The CSP forbids inline code: nothing inline may be needed.
    assert "<script>" not in html and "style=" not in html


def test_wrong_password_is_refused_in_chinese(client, make, world):
    response = client.post("/login", data={"phone": world.leader_a.phone, "password": "nope"})
    assert response.status_code == 200
    assert "手机号码或密码不正确" in page(response)
    assert client.get("/teams").status_code == 302


def test_leader_logs_in_and_lands_on_my_teams(client, world):
    response = login(client, world.leader_a)
    assert response.headers["Location"].endswith("/")
    response = client.get("/", follow_redirects=True)
    html = page(response)
    assert response.request.path == "/teams"
    assert world.team_a.name in html
    assert world.team_b.name not in html
    assert "活动总览" not in html  # only for coordinators
    assert "退出" in html


def test_coordinator_lands_on_overview(client, world):
    login(client, world.coordinator_x)
    response = client.get("/", follow_redirects=True)
    assert response.request.path == "/overview"
    assert "活动总览" in page(response)


def test_logout_is_a_post_and_ends_the_session(client, world):
    login(client, world.leader_a)
    assert client.get("/logout").status_code == 405
    response = client.post("/logout", follow_redirects=True)
    assert "您已退出登录" in page(response)
    assert client.get("/teams").status_code == 302


def test_anonymous_is_sent_to_login_with_a_chinese_prompt(client, world):
    response = client.get(f"/teams/{world.team_a.id}")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
    assert "请先登录" in page(client.get(response.headers["Location"]))


def test_404_page_is_chinese_html(client, world):
    login(client, world.leader_a)
    response = client.get("/teams/999999")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "页面不存在" in page(response)


def test_429_page_after_too_many_login_attempts(app, client, world):
    limit = app.config["LOGIN_RATE_LIMIT"]
    app.config["LOGIN_RATE_LIMIT"] = "2 per minute"
    try:
        for _ in range(2):
            client.post("/login", data={"phone": world.leader_a.phone, "password": "x"})
        response = client.post("/login", data={"phone": world.leader_a.phone, "password": "x"})
    finally:
        app.config["LOGIN_RATE_LIMIT"] = limit
    assert response.status_code == 429
    assert "操作过于频繁" in page(response)


def test_english_on_request_and_kept_in_a_cookie(client, world):
    login(client, world.leader_a)
    response = client.get(f"/teams/{world.team_a.id}?lang=en")
    html = page(response)
    assert '<html lang="en">' in html
    assert "My teams" in html and "Members" in html and "Add member" in html
    assert "我的服务队" not in html and "添加队员" not in html
    assert "lang=en" in response.headers.get("Set-Cookie", "")
    # The cookie carries the choice to the next page, and a link switches back.
    html = page(client.get(f"/events/{world.event_a.id}"))
    assert "Shifts and rosters" in html
    assert "lang=zh" in html
    html = page(client.get(f"/events/{world.event_a.id}?lang=zh"))
    assert "班次与名单" in html


def test_pages_send_security_headers(client, world):
    login(client, world.leader_a)
    response = client.get("/teams")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"


def test_static_files_are_served(client):
    for path in ("/static/app.css", "/static/app.js"):
        with client.get(path) as response:
            assert response.status_code == 200


def test_the_favicon_is_served_at_the_root(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.mimetype in ("image/vnd.microsoft.icon", "image/x-icon")
    assert response.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
    response.close()
