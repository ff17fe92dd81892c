"""Entry point of the worker processes: ``dramatiq volunteer_hub.worker``.

Building the app chooses the broker (REDIS_URL) and imports every tasks module, so the
worker knows every actor; Dramatiq finds the broker as this module's ``broker``. A worker
serves no requests, so the app is built without its web side (blueprints, request hooks).
"""

import gc

import dramatiq

from volunteer_hub import create_app

app = create_app(serve_web=False)
broker = dramatiq.get_broker()

# What the app imported and built lives as long as the process: frozen, the collector
# never walks it again. A feed rebuild of 1,000 events makes millions of objects, and
# each full collection they set off walked the whole import too: 357 → 312 ms
# (bench/feed_serve.py, rebuild). Dramatiq forks its worker processes before they import
# this module, so each freezes its own.
gc.freeze()
