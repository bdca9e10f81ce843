"""Alembic migrations of the state store (a package so that it ships in wheels)."""
