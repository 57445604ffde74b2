"""SQL storage of the directory: SQLite in embedded mode, PostgreSQL in scale mode."""
