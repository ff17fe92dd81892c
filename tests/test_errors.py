"""Error codes: declared in the class line, one kind per code."""

import pytest

from volunteer_hub.errors import Conflict, DomainError
from volunteer_hub.hours.attendance import NotSignedUp
from volunteer_hub.signups.services import ShiftStarted


def test_the_class_line_declares_the_code_and_subclasses_inherit_it():
    assert ShiftStarted.code == "shift-started"
    assert ShiftStarted("x").code == "shift-started"
    assert ShiftStarted("x", code="one-case").code == "one-case"

    class Undeclared(Conflict):
        pass

    assert Undeclared.code == "conflict"
    assert Undeclared.status == 409


def test_a_code_declared_twice_fails_at_import():
    with pytest.raises(TypeError, match=r"not-signed-up.*NotSignedUp"):

        class Again(DomainError, code="not-signed-up"):
            pass

    assert NotSignedUp.code == "not-signed-up"
