"""The German gazetteer (every PLZ and Gemeinde) and an offline geocoder with geopy's interface.

Data: GeoNames postal codes (CC BY 4.0) and BKG VG250 municipalities (dl-de/by-2-0),
packaged under ``lotse_directory/data/gazetteer`` with their licence notes.
"""

import csv
import io
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt
from geopy.distance import distance
from geopy.geocoders.base import Geocoder
from geopy.location import Location

_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def fold(text: str) -> str:
    """Case, umlaut and ß folding for matching place names (``Muenchen`` = ``München``)."""
    return re.sub(r"\s+", " ", text.casefold().translate(_FOLD)).strip()


@dataclass(frozen=True, slots=True)
class Place:
    """A PLZ area or a Gemeinde, with the keys that decide responsibility."""

    name: str
    kreis_key: str
    kreis_name: str
    latitude: float
    longitude: float
    postal_code: str | None = None
    ags: str | None = None  # 8-digit Gemeinde key when known
    rows: int = 1
    """How many gazetteer rows the place stands for (a PLZ's large recipients in one Gemeinde are one place)."""
    large_recipient: bool = False
    """A PLZ of large recipients (Großempfänger: firms, hospitals, care homes, offices), not an area's PLZ."""

    @property
    def land_key(self) -> str:
        return self.kreis_key[:2]

    @property
    def region_key(self) -> str:
        """The most precise key known: the Gemeinde's AGS, else only the Kreis's key."""
        return self.ags or self.kreis_key


@dataclass(frozen=True, slots=True)
class Gemeinde:
    ags: str
    name: str
    kind: str
    status: str


def _read(name: str) -> str:
    return resources.files("lotse_directory").joinpath("data", "gazetteer", name).read_text("utf-8")


class Gazetteer:
    """PLZ → places with Gemeinde key (AGS), Kreis and coordinates; Gemeinden by AGS or name."""

    def __init__(self, plz_csv: str, gemeinden_csv: str) -> None:
        self.gemeinden: dict[str, Gemeinde] = {}
        by_kreis: dict[str, list[_Names]] = defaultdict(list)
        for row in csv.DictReader(io.StringIO(gemeinden_csv)):
            g = Gemeinde(row["ags"], row["name"], row["type"], row["status"])
            self.gemeinden[g.ags] = g
            by_kreis[g.ags[:5]].append(_Names.of(g))
        self.kreis_names: dict[str, str] = {}
        self._by_plz: dict[str, list[Place]] = defaultdict(list)
        self._by_place_name: dict[str, list[Place]] = defaultdict(list)
        coords: dict[str, list[tuple[float, float]]] = defaultdict(list)
        # a large recipient's row names a firm, not a place: a PLZ's rows of one Gemeinde (or of one Kreis,
        # where the Gemeinde is unknown) become one place named after it
        recipients: dict[tuple[str, str, str | None], list[tuple[float, float]]] = {}
        for row in csv.DictReader(io.StringIO(plz_csv)):
            kreis = row["community_code"]
            if not re.fullmatch(r"\d{5}", kreis or ""):
                continue
            self.kreis_names.setdefault(kreis, _kreis_label(row["community"]))
            ags = _match_gemeinde(row["place"], by_kreis.get(kreis, []))
            point = (float(row["latitude"]), float(row["longitude"]))
            if ags:
                coords[ags].append(point)
            coords[kreis].append(point)
            # GeoNames gives area PLZ with the Land's letters (NW), large recipients' with its number (05)
            if not row["state_code"].isalpha():
                recipients.setdefault((row["zipcode"], kreis, ags), []).append(point)
                continue
            place = Place(row["place"], kreis, self.kreis_names[kreis], *point, postal_code=row["zipcode"], ags=ags)
            self._by_plz[row["zipcode"]].append(place)
            self._by_place_name[fold(place.name)].append(place)
        for (code, kreis, ags), points in recipients.items():
            name = self.gemeinden[ags].name if ags else self.kreis_names[kreis]
            lat, lon = sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points)
            self._by_plz[code].append(
                Place(name, kreis, self.kreis_names[kreis], lat, lon, code, ags, len(points), large_recipient=True)
            )
        self._centroids = {
            key: (sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts)) for key, pts in coords.items()
        }
        self._by_name: dict[str, list[str]] = defaultdict(list)
        for g in self.gemeinden.values():
            self._by_name[fold(g.name)].append(g.ags)
            short = fold(re.sub(r"\s*\(.*\)$", "", g.name.split(",")[0]))
            if short != fold(g.name):
                self._by_name[short].append(g.ags)
        self._kreis_by_name: dict[str, str] = {}
        for key, label in self.kreis_names.items():
            for name in (label, re.sub(r"^(Land)?[Kk]reis\s+", "", label)):
                self._kreis_by_name.setdefault(fold(name), key)

    # -- look-ups ----------------------------------------------------------------
    def places_for_postal_code(self, postal_code: str) -> list[Place]:
        """Every place of a PLZ (a PLZ can span several Gemeinden, or name one organisation)."""
        return list(self._by_plz.get(postal_code, []))

    def gemeinde_keys_for_postal_code(self, postal_code: str) -> set[str]:
        return {p.ags for p in self._by_plz.get(postal_code, []) if p.ags}

    def postal_places(self, land_key: str = "") -> Iterator[Place]:
        """Every place of every PLZ, ordered by PLZ, optionally of one Land."""
        for code in sorted(self._by_plz):
            yield from (p for p in self._by_plz[code] if p.kreis_key.startswith(land_key))

    def postal_code_exists(self, postal_code: str) -> bool:
        return postal_code in self._by_plz

    def gemeinde(self, ags: str) -> Place | None:
        g = self.gemeinden.get(ags[:8])
        if g is None:
            return None
        lat, lon = self._centroids.get(g.ags) or self._centroids.get(g.ags[:5], (0.0, 0.0))
        kreis = g.ags[:5]
        return Place(g.name, kreis, self.kreis_names.get(kreis, ""), lat, lon, ags=g.ags)

    def gemeinden_named(self, name: str) -> list[Place]:
        found = [self.gemeinde(ags) for ags in dict.fromkeys(self._by_name.get(fold(name), []))]
        return [p for p in found if p is not None]

    def kreis_named(self, name: str) -> Place | None:
        """A Kreis or kreisfreie Stadt by name ("Kreis Herford", "Herford", "Ennepe-Ruhr-Kreis")."""
        key = self._kreis_by_name.get(fold(name))
        return self.kreis(key) if key else None

    def postal_places_named(self, name: str) -> list[Place]:
        """The PLZ places of this name that are not Gemeinden (Ortsteile, villages), with their Gemeinde when
        known, else only their Kreis."""
        return list(self._by_place_name.get(fold(name), []))

    def kreis(self, kreis_key: str) -> Place | None:
        if kreis_key not in self.kreis_names:
            return None
        lat, lon = self._centroids.get(kreis_key, (0.0, 0.0))
        return Place(self.kreis_names[kreis_key], kreis_key, self.kreis_names[kreis_key], lat, lon)

    def region_exists(self, region_key: str) -> bool:
        """Whether an AGS/ARS prefix names a known Land, Regierungsbezirk, Kreis or Gemeinde."""
        if len(region_key) >= 8:
            return region_key[:8] in self.gemeinden
        return any(ags.startswith(region_key) for ags in self.gemeinden)

    def iter_kreise(self, land_key: str = "") -> Iterator[tuple[str, str]]:
        """(Kreisschlüssel, name) of every Kreis and kreisfreie Stadt, optionally of one Land."""
        keys = sorted({ags[:5] for ags in self.gemeinden if ags.startswith(land_key)})
        for key in keys:
            yield key, self.kreis_names.get(key, key)

    def gemeinden_in(self, region_key: str) -> list[Gemeinde]:
        return [g for ags, g in sorted(self.gemeinden.items()) if ags.startswith(region_key)]

    @cached_property
    def _postal_points(self) -> tuple[list[Place], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        first = [places[0] for places in self._by_plz.values()]
        return first, np.array([p.latitude for p in first]), np.array([p.longitude for p in first])

    def nearest_postal_code(self, latitude: float, longitude: float) -> Place | None:
        """The PLZ place nearest to a point (planar, with longitudes shortened as at 50° north)."""
        places, lat, lon = self._postal_points
        if not places:
            return None
        return places[int(np.argmin((lat - latitude) ** 2 + ((lon - longitude) * 0.64) ** 2))]


def _kreis_label(community: str) -> str:
    # GeoNames writes "Oberhausen, Stadt" and "Kreisfreie Stadt Hagen"; users say "Oberhausen", "Hagen".
    label = community.removeprefix("Kreisfreie Stadt ").removeprefix("Stadtkreis ")
    return label.removesuffix(", Stadt").strip()


@dataclass(frozen=True, slots=True)
class _Names:
    """A Gemeinde's name folded three ways, computed once for matching PLZ places."""

    ags: str
    kreisfrei: bool
    full: str
    first: str  # before a comma: "Aachen, Stadt" -> "aachen"
    base: str  # without a bracket: "Wetter (Ruhr)" -> "wetter"

    @classmethod
    def of(cls, g: Gemeinde) -> "_Names":
        first = g.name.split(",")[0]
        base = re.sub(r"\s*\(.*\)$", "", first)
        return cls(g.ags, g.status == "kreisfrei", fold(g.name), fold(first), fold(base))


def _match_gemeinde(place: str, candidates: list[_Names]) -> str | None:
    if len(candidates) == 1 and candidates[0].kreisfrei:
        return candidates[0].ags
    wanted = fold(place)
    for g in candidates:
        if wanted in (g.full, g.first):
            return g.ags
    for g in candidates:
        if wanted == g.base or (len(g.base) > 3 and wanted.startswith(g.base + " ")):
            return g.ags
    # GeoNames shortens some names ("Emmerich" for "Emmerich am Rhein", "Fröndenberg" for "Fröndenberg/Ruhr")
    longer = [g.ags for g in candidates if len(wanted) > 3 and g.first.startswith((wanted + " ", wanted + "/"))]
    return longer[0] if len(longer) == 1 else None


@cache
def packaged_gazetteer() -> Gazetteer:
    """The gazetteer from the files packaged with the directory (loaded once per process)."""
    return Gazetteer(_read("plz-de.csv"), _read("gemeinden-de.csv"))


class GazetteerGeocoder(Geocoder):  # type: ignore[misc]  # geopy ships no type hints
    """Offline geocoder with geopy's interface: PLZ, "PLZ Ort", Gemeinde names and AGS keys.

    ``raw`` of each result holds ``kind``, ``name``, ``postal_code``, ``ags`` (None where the gazetteer
    knows only the Kreis), ``kreis_key``, ``kreis_name``, ``rows`` and ``large_recipient``.
    """

    def __init__(self, gazetteer: Gazetteer | None = None, preferred_land: str = "05") -> None:
        super().__init__()
        self.gazetteer = gazetteer or packaged_gazetteer()
        self.preferred_land = preferred_land

    def geocode(self, query: str, *, exactly_one: bool = True, timeout: Any = None) -> Any:
        places = self._resolve(str(query).strip())
        if not places:
            return None
        results = [self._location(kind, p) for kind, p in places]
        return results[0] if exactly_one else results

    def reverse(self, query: Any, *, exactly_one: bool = True, timeout: Any = None) -> Any:
        lat, lon = (float(x) for x in (query if isinstance(query, (tuple, list)) else str(query).split(",")))
        place = self.gazetteer.nearest_postal_code(lat, lon)
        if place is None:
            return None
        result = self._location("postal_code", place)
        return result if exactly_one else [result]

    def _resolve(self, query: str) -> list[tuple[str, Place]]:
        g = self.gazetteer
        if "," in query:
            # a postal address ("Ruhrstraße 1, 58452 Witten"): the gazetteer knows no streets, so its
            # "PLZ Ort" part decides (a PLZ spanning Gemeinden stays several places)
            part = next((p.strip() for p in reversed(query.split(",")) if re.match(r"\s*\d{5}\b", p)), None)
            if part is not None:
                query = part
        match = re.fullmatch(r"(\d{5})(?:\s+(.+))?", query)
        if match:
            places = g.places_for_postal_code(match.group(1))
            if match.group(2):
                places = self._named_in(places, match.group(2))
            if places:
                return [("postal_code", p) for p in places]
            kreis = g.kreis(match.group(1))
            return [("kreis", kreis)] if kreis else []
        if re.fullmatch(r"\d{8}|\d{12}", query):
            place = g.gemeinde(query)
            return [("gemeinde", place)] if place else []
        named = g.gemeinden_named(query)
        if named:
            named.sort(key=lambda p: (not p.kreis_key.startswith(self.preferred_land), p.ags or ""))
            return [("gemeinde", p) for p in named]
        kreis = g.kreis_named(query)
        if kreis:
            return [("kreis", kreis)]
        return [("postal_code", p) for p in g.postal_places_named(query)]

    def _named_in(self, places: list[Place], town: str) -> list[Place]:
        """The places of a PLZ that the town of "PLZ Ort" names: by their own name, else those in the Kreis
        of a Gemeinde of that name; all of them if the name tells nothing."""
        wanted = fold(town)
        named = [p for p in places if fold(p.name) == wanted or fold(p.name).startswith(wanted)]
        if named:
            return named
        kreise = {p.kreis_key for p in self.gazetteer.gemeinden_named(town)}
        return [p for p in places if p.kreis_key in kreise] or places

    @staticmethod
    def _location(kind: str, p: Place) -> Location:
        label = f"{p.postal_code} {p.name}" if p.postal_code else p.name
        address = f"{label}, {p.kreis_name}" if p.kreis_name and p.kreis_name != p.name else label
        raw = {
            "kind": kind,
            "name": p.name,
            "postal_code": p.postal_code,
            "ags": p.ags,
            "kreis_key": p.kreis_key,
            "kreis_name": p.kreis_name,
            "rows": p.rows,
            "large_recipient": p.large_recipient,
        }
        return Location(address, (p.latitude, p.longitude), raw)


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(distance(a, b).km)
