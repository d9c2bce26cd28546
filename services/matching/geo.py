"""Where comuni are, and how far apart.

`data/comuni.csv` holds a point for each of the 7,896 Italian comuni of the ISTAT list: the
GeoNames place (CC BY 4.0, geonames.org) of the same name in the same region, or for 201 comuni
born of recent mergers and unknown to GeoNames, the point of a former comune or of the province's
capital (column `source`; see `data/build_comuni.py`, which made the file). Distances are along
the great circle (haversine), in km: a straight line, not a road distance.
"""

from __future__ import annotations

import csv
import math
import re
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).parent / "data" / "comuni.csv"
EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True)
class Point:
    lat: float
    lon: float


def _key(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return " ".join(re.sub(r"[^a-z0-9]+", " ", folded.lower()).split())


def haversine_km(a: Point, b: Point) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (a.lat, a.lon, b.lat, b.lon))
    h = math.sin((lat2 - lat1) / 2) ** 2
    h += math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


_points: dict[tuple[str, str], Point] | None = None
_lock = threading.Lock()


def _load() -> dict[tuple[str, str], Point]:
    global _points
    if _points is None:
        with _lock:
            if _points is None:
                points: dict[tuple[str, str], Point] = {}
                with DATA.open(newline="", encoding="utf-8") as handle:
                    for row in csv.DictReader(handle):
                        point = Point(float(row["lat"]), float(row["lon"]))
                        points[(row["province"], _key(row["name"]))] = point
                        for part in row["name"].split("/"):  # bilingual names
                            points.setdefault((row["province"], _key(part)), point)
                _points = points
    return _points


def locate(province: str | None, municipality: str | None) -> Point | None:
    """The point of a comune (accents, case and punctuation ignored), or None if unknown."""
    if not province or not municipality:
        return None
    return _load().get((province.upper(), _key(municipality)))


def distance_km(a: Point | None, b: Point | None) -> float | None:
    if a is None or b is None:
        return None
    return haversine_km(a, b)
