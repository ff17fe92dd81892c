"""Extension objects, bound to the app in create_app()."""

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from volunteer_hub.db import Base, render_migration_item

db = SQLAlchemy(model_class=Base)
migrate = Migrate(compare_type=True, render_as_batch=True, render_item=render_migration_item)
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def _install_hooks() -> None:
    from volunteer_hub import after_commit
    from volunteer_hub.db import install_binary_results_option, install_sqlite_hooks

    install_sqlite_hooks()
    install_binary_results_option()
    from flask_sqlalchemy.session import Session

    # On the class, so every session Flask-SQLAlchemy makes (any app, any thread) has it.
    after_commit.install(Session)


_install_hooks()
