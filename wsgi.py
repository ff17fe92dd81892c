"""WSGI entry point: ``flask --app wsgi run`` or ``gunicorn --preload wsgi:app``."""

import gc

from volunteer_hub import create_app

app = create_app()

# What the app imported and built lives as long as the process. Frozen, the collector
# never walks it again; and under ``gunicorn --preload``, where the workers are forked
# from this process, a collection in a worker no longer writes to those objects, which
# would copy each page they sit on into that worker (USS 59 → 37 MB, bench/memory.py).
gc.freeze()
