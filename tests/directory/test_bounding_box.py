"""The box that narrows radius searches holds every point within the radius."""

import math

from hypothesis import given
from hypothesis import strategies as st
from lotse_directory.domain.search.query import EARTH_RADIUS_KM, bounding_box, km_between


def _destination(lat: float, lon: float, km: float, bearing_deg: float) -> tuple[float, float]:
    d, b = km / EARTH_RADIUS_KM, math.radians(bearing_deg)
    p1, l1 = math.radians(lat), math.radians(lon)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    l2 = l1 + math.atan2(math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2))
    return math.degrees(p2), (math.degrees(l2) + 540) % 360 - 180


@given(
    lat=st.floats(-85, 85),
    lon=st.floats(-179.9, 179.9),
    radius=st.floats(0.1, 500),
    share=st.floats(0, 1),
    bearing=st.floats(0, 360),
)
def test_every_point_within_the_radius_is_in_the_box(
    lat: float, lon: float, radius: float, share: float, bearing: float
) -> None:
    south, north, west, east = bounding_box(lat, lon, radius)
    p_lat, p_lon = _destination(lat, lon, radius * share, bearing)
    assert km_between(lat, lon, p_lat, p_lon) <= radius * 1.0001
    assert south <= p_lat <= north
    assert west <= p_lon <= east


def test_the_box_is_tight_in_nrw() -> None:
    south, north, west, east = bounding_box(51.4556, 7.0116, 10)  # Essen, 10 km
    assert 0.17 < north - south < 0.19
    assert 0.28 < east - west < 0.30
