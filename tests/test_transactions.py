"""How a request's transaction ends (transactions.py), seen through a second app with a
few probe views: each adds a person, then succeeds, refuses (DomainError) or breaks.

What a request committed is read on a connection of its own, so only committed rows
count; the requests share one app context, as the suite's other requests do, so only
the hooks under test end their transactions.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Blueprint

from tests.other_app import other_app
from volunteer_hub import after_commit
from volunteer_hub.errors import DomainError
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.transactions import on_domain_error

PHONE = "+8613900009999"

#: what the after-commit queue ran, in order
ran: list[str] = []


def _add_person(how: str) -> None:
    db.session.add(Person(name="探针", phone=PHONE))
    db.session.flush()
    after_commit.enqueue(ran.append, "sent")
    if how == "refuse":
        raise DomainError("不行")
    if how == "break":
        raise RuntimeError("a bug")


probe = Blueprint("probe", __name__)


@probe.route("/probe/<how>", methods=["GET", "POST"])
def write(how: str):
    _add_person(how)
    return "ok"


@probe.post("/probe-form/<how>")
def form(how: str):
    # The page answering a refusal shows how many people it can see.
    on_domain_error(
        lambda exc: (f"{exc.message} {db.session.scalar(sa.func.count(Person.id))}", 400)
    )
    _add_person(how)
    return "ok"


@pytest.fixture
def probed(app):
    ran.clear()
    with other_app(app) as second:
        second.register_blueprint(probe)
        with second.app_context():
            yield second.test_client()
            db.session.rollback()


def committed_people() -> int:
    with db.engine.connect() as conn:
        return conn.scalar(sa.select(sa.func.count()).select_from(Person.__table__))


def test_a_successful_post_is_committed_then_the_after_commit_queue_runs(probed):
    response = probed.post("/probe/succeed")
    assert response.status_code == 200
    assert committed_people() == 1
    assert ran == ["sent"]


def test_a_domain_error_is_rolled_back_and_its_queue_dropped(probed):
    response = probed.post("/probe/refuse")
    assert response.status_code == 400
    assert committed_people() == 0
    assert ran == []
    assert not db.session.new and not db.session().in_transaction()


def test_any_other_exception_is_rolled_back(probed):
    with pytest.raises(RuntimeError):  # TESTING re-raises; production answers 500
        probed.post("/probe/break")
    assert committed_people() == 0
    assert ran == []
    assert not db.session().in_transaction()


def test_a_get_commits_nothing_even_if_it_wrote(probed):
    response = probed.get("/probe/succeed")
    assert response.status_code == 200
    assert committed_people() == 0
    assert ran == []
    assert not db.session().in_transaction()


def test_the_answer_to_a_refusal_sees_the_rolled_back_session(probed):
    response = probed.post("/probe-form/refuse")
    assert response.status_code == 400
    assert response.get_data(as_text=True) == "不行 0"  # the flushed person is gone
    assert committed_people() == 0


def test_what_a_view_declared_does_not_outlive_its_request(probed):
    assert probed.post("/probe-form/succeed").status_code == 200
    db.session.execute(sa.delete(Person))  # the phone is free for the next probe
    db.session.commit()
    # The next request's refusal gets the default answer, not the last view's.
    response = probed.post("/probe/refuse")
    assert response.status_code == 400
    assert "不行 0" not in response.get_data(as_text=True)
