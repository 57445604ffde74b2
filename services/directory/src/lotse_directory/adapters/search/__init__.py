"""Search backends: embedded SQLite FTS5 and Elasticsearch."""
