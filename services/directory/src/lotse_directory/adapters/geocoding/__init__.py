"""Geocoding: the offline gazetteer behind geopy's interface, or Nominatim through geopy."""
