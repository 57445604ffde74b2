"""What routing knows of an authority from the directory, and which of its offices is nearest the client."""

from dataclasses import dataclass

from geopy.distance import great_circle

from lotse_routing.domain.decision import Place


@dataclass(frozen=True, slots=True)
class FoundPlace:
    """A place the directory's geocoder found for what the case manager typed."""

    place: Place
    latitude: float
    longitude: float
    label: str


@dataclass(frozen=True, slots=True)
class Office:
    location_id: str
    name: str
    address: str
    latitude: float | None
    longitude: float | None
    opening_hours: tuple[str, ...] = ()
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class Authority:
    id: str
    name: str
    email: str | None = None
    offices: tuple[Office, ...] = ()


@dataclass(frozen=True, slots=True)
class Offer:
    """An offer (HSDS service) of the directory a case manager refers a client to directly."""

    id: str
    name: str
    organization_id: str
    legal_domains: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NearestOffice:
    office: Office
    distance_km: float | None
    """None when the office or the client has no coordinates (then the jurisdiction's office is named)."""


def nearest_office(
    authority: Authority, client: tuple[float, float] | None, preferred_location_id: str | None = None
) -> NearestOffice | None:
    """The authority's office nearest to the client; without coordinates, the office the jurisdiction
    names, else the first.

    The distance is geopy's great-circle distance: within 0.5 % of the geodesic one, which is more than
    a client's place (a PLZ's or Gemeinde's centre) is exact, and 30 times cheaper.
    """
    if not authority.offices:
        return None
    placed = [o for o in authority.offices if o.latitude is not None and o.longitude is not None]
    if client is not None and placed:
        measured = [(great_circle(client, (o.latitude, o.longitude)).km, o) for o in placed]
        distance, office = min(measured, key=lambda pair: (pair[0], pair[1].location_id))
        return NearestOffice(office, round(distance, 1))
    named = next((o for o in authority.offices if o.location_id == preferred_location_id), authority.offices[0])
    return NearestOffice(named, None)
