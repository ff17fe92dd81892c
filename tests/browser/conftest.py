"""Browser journeys: Debian's Chromium driven by Playwright against the app served by a
real HTTP server on 127.0.0.1, with CSRF on and a real Dramatiq worker.

No browser is ever downloaded: Playwright launches the system's Chromium
(``CHROMIUM_PATH``, default /usr/bin/chromium). Where it or the ``playwright`` package
is missing the journeys skip and say why; ``.ci/run`` installs Chromium, so CI runs
them. Each journey saves screenshots of its key pages under build/screenshots/<journey>/.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
#: flags for a headless Chromium on a machine with no network and no display
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
HOUR = timedelta(hours=1)
PHONE = {"width": 390, "height": 844}


def local_midnight(days_ahead: int) -> datetime:
    """Midnight in Shanghai ``days_ahead`` days from today: shifts at round hours."""
    today = datetime.now(ZoneInfo("Asia/Shanghai")).replace(hour=0, minute=0, second=0)
    return today.replace(microsecond=0) + timedelta(days=days_ahead)


def release_database() -> None:
    """End the test's own transaction: on SQLite every transaction holds the write lock
    (BEGIN IMMEDIATE), and the server's requests must not wait for the test."""
    from volunteer_hub.extensions import db

    db.session.commit()
    db.session.close()


def staff_login(page, phone: str, password: str) -> None:
    """Log in on the staff password page."""
    page.goto("/login")
    page.get_by_label("手机号码").fill(phone)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()


def _unavailable(reason: str):
    # CI sets VH_REQUIRE_BROWSER: there the journeys must run, so a missing browser fails.
    if os.environ.get("VH_REQUIRE_BROWSER"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium():
    if not Path(CHROMIUM).exists():
        _unavailable(
            f"no Chromium at {CHROMIUM}: install Debian's (apt-get install chromium) or set "
            "CHROMIUM_PATH; CI installs it and runs these journeys"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (python3 dev.py test installs it)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


def _read_whole(app):
    """The app with every answer read whole, its file closed, before the server sends it.
    When the browser drops a connection mid-answer (a favicon fetch cut short by the next
    page), werkzeug's development server fails in its own clean-up before it closes the
    answer, and the open static file surfaces later, in whichever test then runs, as a
    ResourceWarning. The app streams nothing, so reading whole changes no answer."""

    def whole(environ, start_response):
        answer = app(environ, start_response)
        try:
            return [b"".join(answer)]
        finally:
            if hasattr(answer, "close"):
                answer.close()

    return whole


@pytest.fixture
def live_server(app, worker, csrf_on) -> Iterator[str]:
    """The app on a free port of 127.0.0.1, served by werkzeug's threaded server (a real
    HTTP server), with the development SMS page on: it is where a tester reads texts."""
    from werkzeug.serving import make_server

    previous = {key: app.config.get(key) for key in ("DEV_PAGES", "SERVER_NAME")}
    server = make_server("127.0.0.1", 0, _read_whole(app), threaded=True)
    app.config.update(DEV_PAGES=True, SERVER_NAME=f"127.0.0.1:{server.server_port}")
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()
        app.config.update(previous)


class Journey:
    """A browser context of one size for one person, saving numbered screenshots."""

    def __init__(self, browser, base_url: str, folder: Path, viewport: dict, name: str):
        self.base_url = base_url
        self.folder = folder
        self.name = name
        self.context = browser.new_context(
            viewport=viewport,
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
            base_url=base_url,
            accept_downloads=True,
            device_scale_factor=1,
            is_mobile=viewport["width"] < 600,
            has_touch=viewport["width"] < 600,
        )
        self.context.set_default_timeout(15_000)
        self.page = self.context.new_page()
        self.shots = 0

    def shot(self, label: str, full_page: bool = True) -> Path:
        self.shots += 1
        path = self.folder / f"{self.shots:02d}-{self.name}-{label}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def journey(chromium, live_server, request):
    """``journey("leader", DESKTOP)`` opens a browser context; screenshots go to
    build/screenshots/<test name>/."""
    folder = SCREENSHOTS / re.sub(r"^test_", "", request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    opened: list[Journey] = []

    def open_journey(name: str, viewport: dict = DESKTOP) -> Journey:
        made = Journey(chromium, live_server, folder, viewport, name)
        opened.append(made)
        return made

    yield open_journey
    for made in opened:
        made.close()
