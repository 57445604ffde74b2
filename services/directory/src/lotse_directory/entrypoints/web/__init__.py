"""The directory's HTTP API (Flask blueprints)."""
