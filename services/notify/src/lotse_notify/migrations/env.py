"""Alembic environment of the notify database."""

from lotse_kit.sql import run_migrations
from lotse_notify.adapters.storage.tables import metadata

run_migrations(metadata)
