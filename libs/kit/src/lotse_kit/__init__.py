"""Lotse service kit: what every Lotse web service needs, and nothing service-specific."""
