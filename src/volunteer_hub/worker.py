"""Entry point of the worker processes: ``dramatiq volunteer_hub.worker``.

Building the app chooses the broker (REDIS_URL) and imports every tasks module, so the
worker knows every actor; Dramatiq finds the broker as this module's ``broker``. A worker
serves no requests, so the app is built without its web side (blueprints, request hooks).
"""

import dramatiq

from volunteer_hub import create_app

app = create_app(serve_web=False)
broker = dramatiq.get_broker()
