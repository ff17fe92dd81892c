"""Tooling for tests, benchmarks and local development.

The app uses two parts of it, and only these: the development pages (``views``,
``forms``: /dev/sms), whose blueprint ``create_app`` always registers but which answer
404 unless the app runs in debug mode or with DEV_PAGES; and the demo data (``demo``,
``demo_world``, ``demo_scale``), imported only when ``flask seed-demo`` runs. The rest
(the provider fakes ``fake_*``, ``servers``, ``feed_scenario``) is for tests and
benchmarks and is never imported by the app.
"""
