"""Routing rules, free of frameworks and storage."""
