"""Alembic environment of the routing database."""

from lotse_kit.sql import run_migrations
from lotse_routing.adapters.storage.tables import metadata

run_migrations(metadata)
