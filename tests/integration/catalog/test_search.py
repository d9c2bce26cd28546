"""Search: stemming, accents and stop words in both languages, ranking, filters and facets;
taxonomies served read-only."""

from __future__ import annotations

from tests.integration.catalog.conftest import (
    ANONYMOUS,
    ASEV,
    CPTM,
    LUCENSE,
    Catalog,
    competence_body,
    lab_body,
    sem_body,
    service_body,
)


async def test_bilingual_stemmed_search_with_filters_and_facets(members: Catalog) -> None:
    svc = members
    prove = await svc.create_lab(
        CPTM,
        name={"it": "Laboratorio prove e qualità"},
        description={"it": "Caratterizzazione dei materiali metallici e analisi di frattura."},
        province="LI",
        municipality="Cecina",
    )
    competence = await svc.add(
        CPTM,
        prove["id"],
        "competences",
        competence_body(
            title={"it": "Analisi di cedimento", "en": "Failure analysis"},
            description={
                "it": "Indagini sulle cause di rottura di componenti meccanici.",
                "en": "Investigation of the causes of breakage of mechanical parts.",
            },
            keywords=[],
            trl_min=4,
            trl_max=7,
            tags={"ateco": ["71.20.1"], "s3": ["S3-2021.MAT"]},
        ),
    )
    sem = await svc.add(CPTM, prove["id"], "equipment", sem_body(shareable=False))
    await svc.publish(CPTM, prove["id"])
    digital = await svc.create_lab(
        ASEV,
        name={"it": "Centro servizi digitali", "en": "Digital services centre"},
        description={"it": "Formazione e consulenza.", "en": "Training and consulting."},
        province="FI",
        municipality="Empoli",
    )
    course = await svc.add(
        ASEV,
        digital["id"],
        "services",
        service_body(
            name={"it": "Corsi di formazione digitale", "en": "Digital training courses"},
            kind="training",
            description={"it": "Formazione per le imprese.", "en": "Training for firms."},
            tags={"ateco": ["85.59.2"], "s3": ["S3-2021.DIG"]},
        ),
    )
    await svc.publish(ASEV, digital["id"])
    draft = await svc.create_lab(LUCENSE, name={"it": "Laboratorio prove segreto"})

    # stemming, stop words, accents, both languages
    assert prove["id"] in await svc.found("laboratori di prova")
    assert prove["id"] in await svc.found("caratterizzazione materiali")
    assert prove["id"] in await svc.found("QUALITA")
    assert competence["id"] in await svc.found("cedimenti")
    assert competence["id"] in await svc.found("failures")
    assert competence["id"] in await svc.found("breakage of parts")
    assert course["id"] in await svc.found("formazione") and course["id"] in await svc.found(
        "courses"
    )
    assert draft["id"] not in await svc.found("laboratorio prove")
    assert (await svc.search(q="di the of"))["items"] == []

    # ranking: every word matched first
    ranked = await svc.search(q="laboratorio prove qualità")
    assert ranked["items"][0]["id"] == prove["id"]
    scores = [item["score"] for item in ranked["items"]]
    assert scores == sorted(scores, reverse=True)

    # filters and facets (over every match, not one page)
    everything = await svc.search(limit=1)
    assert everything["total"] == 5 and len(everything["items"]) == 1
    facets = everything["facets"]
    assert facets["entity"] == {"lab": 2, "competence": 1, "equipment": 1, "service": 1}
    assert facets["province"] == {"LI": 3, "FI": 2}
    assert facets["centre"] == {CPTM: 3, ASEV: 2}
    assert facets["kind"] == {"training": 1}
    assert facets["trl"] == {"4": 1, "5": 1, "6": 1, "7": 1}
    assert facets["shareable"] == {"false": 1}
    assert facets["ateco"]["71.20"] == 2  # the SEM and the CPTM lab (its entries' tags)
    assert facets["s3"] == {"S3-2021.MAT": 2, "S3-2021.DIG": 2}
    filtered = {
        "province": ("FI", {digital["id"], course["id"]}),
        "centre": (CPTM, {prove["id"], competence["id"], sem["id"]}),
        "entity": ("service", {course["id"]}),
        "kind": ("training", {course["id"]}),
        "trl": ("5", {competence["id"]}),
        "shareable": ("false", {sem["id"]}),
        "ateco": ("Q", {digital["id"], course["id"]}),  # section Q: education (NACE 2.1)
        "s3": ("S3-2021.MAT", {prove["id"], competence["id"]}),
    }
    for name, (value, expected) in filtered.items():
        result = await svc.search(**{name: value})
        assert {item["id"] for item in result["items"]} == expected, name
        assert result["total"] == len(expected)
    both = await svc.search(q="prove", ateco="N", entity="lab")
    assert [item["id"] for item in both["items"]] == [prove["id"]]

    english = await svc.search(q="digital", lang="en")
    titles = {item["id"]: item["title"] for item in english["items"]}
    assert titles[course["id"]] == "Digital training courses"
    italian = await svc.search(q="digital")
    assert {i["id"]: i["title"] for i in italian["items"]}[course["id"]] == (
        "Corsi di formazione digitale"
    )
    assert (await svc.client.get("/search", headers=ANONYMOUS)).status_code == 200


async def test_taxonomies_are_served_and_searchable(catalog: Catalog) -> None:
    svc = catalog
    listed = (await svc.client.get("/taxonomies", headers=ANONYMOUS)).json()["items"]
    by_name = {t["name"]: t for t in listed}
    assert {"ateco", "s3", "ket", "erc", "ford", "trl", "provinces", "municipalities"} <= set(
        by_name
    )
    assert all(t["source"] and t["licence"] for t in listed)
    assert {n for n, t in by_name.items() if t["tag"]} == {"ateco", "s3", "ket", "erc", "ford"}
    assert by_name["trl"]["size"] == 9 and by_name["provinces"]["size"] == 107

    manufacturing = await svc.client.get(
        "/taxonomies/ateco", params={"q": "attivita manifatturiere"}, headers=ANONYMOUS
    )
    assert manufacturing.json()["items"][0]["code"] == "C"
    assert manufacturing.json()["items"][0]["label"]["it"] == "ATTIVITÀ MANIFATTURIERE"
    term = (await svc.client.get("/taxonomies/ateco/2651", headers=ANONYMOUS)).json()
    assert term["code"] == "26.51" and term["parent"] == "26.5"
    panels = await svc.client.get("/taxonomies/erc", params={"parent": "PE"}, headers=ANONYMOUS)
    assert [t["code"] for t in panels.json()["items"]][:3] == ["PE1", "PE2", "PE3"]
    comuni = await svc.client.get(
        "/taxonomies/municipalities", params={"parent": "LU", "q": "viareggio"}, headers=ANONYMOUS
    )
    assert [t["label"]["it"] for t in comuni.json()["items"]] == ["Viareggio"]

    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = (await svc.client.get("/taxonomies/ket", params=params, headers=ANONYMOUS)).json()
        seen += [t["code"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 10
    trl = (await svc.client.get("/taxonomies/trl/4", headers=ANONYMOUS)).json()
    assert trl["label"] == {
        "en": "Technology validated in lab",
        "it": "Tecnologia convalidata in laboratorio",
    }
    assert (await svc.client.post("/labs", json=lab_body(), headers=ANONYMOUS)).status_code == 403
