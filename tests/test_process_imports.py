"""What a web and a worker process import at start: the libraries only some commands or
pages need stay out until they are used (issue 15, memory). Each check runs in a fresh
interpreter, since this test process has imported everything already."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: imported where used: `flask db`, a calendar feed, a Twilio send (and its HTTP client)
LOADED_ON_USE = (
    "flask_migrate",
    "alembic",
    "icalendar",
    "twilio.rest",
    "twilio.http",
    "requests",
    "urllib3",
)


def _fresh_interpreter(code: str, tmp_path, settings: dict | None = None) -> dict:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'imports.sqlite3'}",
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": "imports-test",
        # the Twilio backend is the one whose SDK is heavy; its module is imported
        "SMS_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "imports-test",
        "TWILIO_FROM_NUMBER": "+15005550006",
    }
    env.pop("REDIS_URL", None)
    env.update(settings or {})
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _report(module: str) -> str:
    return (
        f"import json, sys, importlib\n"
        f"process = importlib.import_module({module!r})\n"
        "import gc\n"
        "frozen = gc.get_freeze_count()\n"
        "import volunteer_hub.sms.backends.twilio\n"
        "print(json.dumps({'loaded': [n for n in sys.modules if n.startswith(%r)],"
        " 'blueprints': sorted(process.app.blueprints), 'frozen': frozen}))" % (LOADED_ON_USE,)
    )


def test_the_web_process_leaves_migrations_calendars_and_the_twilio_sdk_out(tmp_path):
    report = _fresh_interpreter(_report("wsgi"), tmp_path)
    assert report["loaded"] == []
    assert {"api", "sms", "health"} <= set(report["blueprints"])
    # what the import built is frozen: no collection walks it, none copies its pages
    assert report["frozen"] > 10_000


def test_the_worker_process_has_no_web_side(tmp_path):
    report = _fresh_interpreter(_report("volunteer_hub.worker"), tmp_path)
    assert report["loaded"] == []
    assert report["blueprints"] == []
    assert report["frozen"] > 10_000


def test_the_twilio_http_client_is_still_an_sdk_client_by_name():
    from twilio.http.http_client import TwilioHttpClient

    from volunteer_hub.sms.backends import twilio

    assert issubclass(twilio.RedirectingHttpClient, TwilioHttpClient)
    assert twilio.RedirectingHttpClient is twilio.redirecting_http_client_class()


def test_actors_imported_before_the_app_still_send_through_its_broker(tmp_path):
    """A script that imports a tasks module before it makes the app (a bench, a devtool)
    declares those actors before any broker is chosen. They must land on the app's
    broker all the same, not on a Redis broker of Dramatiq's own making (database 0,
    namespace "dramatiq"), where no worker reads."""
    code = (
        "import json, dramatiq\n"
        "from volunteer_hub.calendar import tasks\n"
        "from volunteer_hub import create_app\n"
        "create_app()\n"
        "broker = dramatiq.get_broker()\n"
        "print(json.dumps({'stray': sorted(a.actor_name for a in (tasks.feeds_touched,"
        " tasks.rebuild_feed) if a.broker is not broker), 'namespace': broker.namespace}))"
    )
    with_redis = {"REDIS_URL": "redis://127.0.0.1:6379/15"}  # chosen, never connected to
    report = _fresh_interpreter(code, tmp_path, with_redis)
    assert report == {"stray": [], "namespace": "volunteer_hub"}
