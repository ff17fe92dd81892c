"""Tooling for tests, benchmarks and local development; never imported by the app itself."""
