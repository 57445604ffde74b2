"""Alembic environment of the directory database."""

from lotse_directory.adapters.storage.tables import is_declared, metadata
from lotse_kit.sql import run_migrations

run_migrations(metadata, include_name=is_declared)
