"""Ports of the directory and their implementations (storage, geocoding)."""
