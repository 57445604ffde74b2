"""The directory's entities, rules and profile — no I/O beyond the schemas packaged with it."""
