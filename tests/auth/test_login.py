import pytest

from tests.conftest import login
from tests.factories import PASSWORD
from volunteer_hub.auth.services import authenticate
from volunteer_hub.config import from_environment


@pytest.fixture
def leader(make):
    return make.leader(make.team(), phone="+8613900001111")


def test_password_is_stored_with_a_salted_kdf(leader, make):
    from volunteer_hub.auth.services import set_password

    person = make.person()
    set_password(person, PASSWORD)
    other = make.person()
    set_password(other, PASSWORD)
    # werkzeug's scrypt at full cost (N=2**15), salted: same password, different hashes
    assert person.password_hash.startswith("scrypt:32768:8:1$")
    assert person.password_hash != other.password_hash
    assert PASSWORD not in person.password_hash
    found = authenticate("139 0000 1111", PASSWORD)
    assert found is not None and found.id == leader.id


def test_leader_logs_in_with_phone_in_any_format(client, leader):
    response = client.post("/login", data={"phone": "139 0000 1111", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/teams").status_code == 200


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(client, leader):
    for phone, password in [("13900001111", "wrong-password"), ("13900009999", PASSWORD)]:
        response = client.post("/login", data={"phone": phone, "password": password})
        assert response.status_code == 200
        assert "手机号码或密码不正确" in response.get_data(as_text=True)
    assert client.get("/teams").status_code == 302  # still anonymous: sent to the login page


def test_volunteer_without_password_cannot_log_in(client, make):
    volunteer = make.person(phone="+8613900002222")
    response = client.post("/login", data={"phone": volunteer.phone, "password": ""})
    assert client.get("/teams").status_code == 302
    assert response.status_code == 200


def test_login_attempts_are_rate_limited(client, leader):
    statuses = [
        client.post("/login", data={"phone": leader.phone, "password": "nope"}).status_code
        for _ in range(11)
    ]
    assert statuses[:10] == [200] * 10
    assert statuses[10] == 429
    # Even the right password is refused while the limit holds.
    assert (
        client.post("/login", data={"phone": leader.phone, "password": PASSWORD}).status_code == 429
    )


def test_next_parameter_only_allows_local_paths(client, leader):
    for target, expected in [
        ("/overview", "/overview"),
        ("https://evil.example/", "/"),
        ("//evil", "/"),
    ]:
        client.post("/logout")
        response = client.post(
            f"/login?next={target}", data={"phone": leader.phone, "password": PASSWORD}
        )
        assert response.status_code == 302
        assert response.headers["Location"] == expected


def test_logout_is_a_post_and_ends_the_session(client, leader):
    login(client, leader)
    assert client.get("/logout").status_code == 405
    client.post("/logout")
    assert client.get("/teams").status_code == 302


def test_csrf_is_required_on_login(app, client, leader):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = client.post("/login", data={"phone": leader.phone, "password": PASSWORD})
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert response.status_code == 400
    assert client.get("/teams").status_code == 302


def test_security_headers_on_every_page(client):
    response = client.get("/login")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_session_cookie_is_httponly_and_lax(client, leader):
    response = client.post("/login", data={"phone": leader.phone, "password": PASSWORD})
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_cookies_are_secure_when_served_over_https(tmp_path):
    settings = from_environment(str(tmp_path), {"PUBLIC_BASE_URL": "https://vh.example.cn"})
    assert settings["SESSION_COOKIE_SECURE"] is True
    assert settings["REMEMBER_COOKIE_SECURE"] is True
    plain = from_environment(str(tmp_path), {})
    assert plain["SESSION_COOKIE_SECURE"] is False


def test_the_front_page_asks_volunteer_or_staff(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "志愿者（短信验证码）" in html and 'href="/me/login"' in html
    assert "工作人员（密码）" in html and 'href="/login"' in html
    # The same choice on both login pages, the current one marked.
    for path, current in (("/login", "/login"), ("/me/login", "/me/login")):
        html = client.get(path).get_data(as_text=True)
        assert "志愿者（短信验证码）" in html and "工作人员（密码）" in html
        assert f'href="{current}" aria-current="page"' in html


def test_a_wrong_password_points_volunteers_to_the_code_login(client, leader):
    response = client.post("/login", data={"phone": leader.phone, "password": "nope"})
    html = response.get_data(as_text=True)
    assert "手机号码或密码不正确" in html
    alert = html.split('role="alert"')[1].split("</div>")[0]
    assert "短信验证码" in alert and 'href="/me/login"' in alert
