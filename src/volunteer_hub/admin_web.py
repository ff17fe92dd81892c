"""What the administration pages share: who may open them, and how a posted form is
checked before its service is called."""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import abort, make_response

from volunteer_hub.transactions import on_domain_error
from volunteer_hub.web import current_viewer, error_dict, form_errors, staff_required

#: renders the form's page again: (errors, status) → an answer
Page = Callable[[dict[str, str], int], object]


def overseer_required(view):
    """Logged in as an admin or a coordinator (退役军人事务局 staff); leaders have their
    teams' pages, and everyone else gets 404 here."""

    @functools.wraps(view)
    @staff_required
    def wrapper(*args, **kwargs):
        viewer = current_viewer()
        if not (viewer.is_admin or viewer.is_coordinator):
            abort(404)
        return view(*args, **kwargs)

    return wrapper


def check_posted(form, page: Page) -> None:
    """Check a posted form: with WTForms errors the request ends here, answered by
    ``page(errors, 400)``; a DomainError raised later by the service is answered the
    same way, after the rollback (transactions.on_domain_error)."""
    if not form.validate_on_submit():
        abort(make_response(page(form_errors(form), 400)))
    on_domain_error(lambda exc: page(error_dict(exc), 400))
