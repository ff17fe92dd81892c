import pytest

from volunteer_hub import after_commit
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person


@pytest.fixture
def received():
    return []


def test_runs_only_after_commit(received):
    db.session.add(Person(name="甲", phone="+8613900000001"))
    after_commit.enqueue(received.append, 1)
    after_commit.enqueue(received.append, 1)  # the same call twice in one transaction: once
    assert received == []
    db.session.commit()
    assert received == [1]


def test_dropped_on_rollback(received):
    after_commit.enqueue(received.append, 2)
    db.session.rollback()
    db.session.commit()
    assert received == []


def test_survives_a_rolled_back_savepoint(received):
    after_commit.enqueue(received.append, 3)
    with pytest.raises(RuntimeError), db.session.begin_nested():
        raise RuntimeError("inner failure")
    db.session.commit()
    assert received == [3]


def test_enqueue_calls_after_commit():
    calls = []
    after_commit.enqueue(calls.append, "sent")
    assert calls == []
    db.session.commit()
    assert calls == ["sent"]


def test_a_broker_outage_is_one_warning_and_the_commit_stands(caplog):
    """Redis down: the enqueue fails after the commit; the request must go on (the outbox
    row is durable and the tick sends it again), with one line in the log."""
    import logging

    import redis

    def unreachable(*args):
        raise redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6390.")

    calls = []
    caplog.set_level(logging.WARNING, logger="volunteer_hub.after_commit")
    db.session.add(Person(name="乙", phone="+8613900000002"))
    after_commit.enqueue(unreachable, 1)
    after_commit.enqueue(calls.append, "still runs")

    db.session.commit()  # does not raise

    assert calls == ["still runs"]
    assert db.session.query(Person).filter_by(phone="+8613900000002").count() == 1
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "broker unreachable: ConnectionError" in record.getMessage()
    assert record.exc_info is None  # no traceback per request during an outage
