"""WSGI entry point: ``flask --app wsgi run`` or ``gunicorn wsgi:app``."""

from volunteer_hub import create_app

app = create_app()
