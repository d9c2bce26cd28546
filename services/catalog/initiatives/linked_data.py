"""The initiatives as linked data (JSON-LD), aligned with HER-AP_IT, the Italian application
profile for higher education, research and innovation (AgID OntoPiA, defined with Regione
Toscana; `https://w3id.org/italia/onto/HER`).

Terms taken from HER-AP_IT and the OntoPiA ontologies it imports:
- classes: `Project:PublicResearchProject` (research and innovation projects, joint actions;
  the profile's key class) and `l0:Activity` (every initiative); organisations are
  `COV:Organization`; dates `TI:TimeInstant`;
- `HER:title` (language-tagged), `HER:abstract` (projects; `l0:description`, its parent, for
  events), `HER:hasCoordinator` (the lead centre of a project), `HER:initiativeType` (the kind),
  `HER:status`, `HER:hasStartingDate` / `HER:hasEndingDate` (a `TI:TimeInstant` with
  `TI:date`), `HER:totalInvestment` (the budget) and `HER:totalGrant` (the public funding) as
  `xsd:decimal` in EUR, `HER:hasERCPanel` and `HER:hasFORDClassification` (the OntoPiA
  controlled vocabularies `classifications-for-her/erc-panel-h2020-fp` and
  `.../fields-of-research-development`), `l0:hasTopic` for the other tags (S3, KET, ATECO:
  the catalogue's `/taxonomies/{name}/{code}` addresses).
  Several of these HER properties are declared on the profile's source-specific project classes
  (EUREKA, Erasmus+, CTN/PRIN): they are used here for the same facts of our initiatives.

Where HER-AP_IT has no term, schema.org and DCMI terms: events are `schema:EducationEvent`
(training) or `schema:Event` (dissemination) with `schema:organizer` (the lead centre),
`schema:startDate`/`schema:endDate` and `schema:location` (`schema:Place`,
`schema:PostalAddress`); partners (member centres and other organisations) are
`dcterms:contributor`, the other organisations' kind `schema:additionalType`; the funding
programme and call `schema:funding` (`schema:Grant` with `schema:name`, `schema:identifier`);
links `rdfs:seeAlso`; `dcterms:identifier`, `dcterms:created`, `dcterms:modified`. Participant
counts are not published (no term of the profile or of schema.org fits them).

Identifiers: an initiative is `<public url>/initiatives/{id}`, an organisation (centre) of the
membership `urn:uuid:{organisation id}`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from services.catalog.initiatives.schemas import EVENT_KINDS, FUNDING_LABELS
from services.catalog.initiatives.service import Record

HER = "https://w3id.org/italia/onto/HER/"
VOCABULARIES = "https://w3id.org/italia/controlled-vocabulary/classifications-for-her/"
CONTEXT: dict[str, str] = {
    "her": HER,
    "project": "https://w3id.org/italia/onto/Project/",
    "l0": "https://w3id.org/italia/onto/l0/",
    "cov": "https://w3id.org/italia/onto/COV/",
    "ti": "https://w3id.org/italia/onto/TI/",
    "schema": "https://schema.org/",
    "dcterms": "http://purl.org/dc/terms/",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}
MEDIA_TYPE = "application/ld+json"


def _texts(language_map: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"@value": value, "@language": lang} for lang, value in sorted(language_map.items())]


def _typed(value: str, datatype: str) -> dict[str, str]:
    return {"@value": value, "@type": datatype}


def _instant(day: Any) -> dict[str, Any]:
    return {"@type": "ti:TimeInstant", "ti:date": _typed(day.isoformat(), "xsd:date")}


def organisation(organisation_id: str, names: Mapping[str, str]) -> dict[str, Any]:
    node: dict[str, Any] = {"@id": f"urn:uuid:{organisation_id}", "@type": "cov:Organization"}
    if name := names.get(organisation_id):
        node["rdfs:label"] = name
    return node


def _topics(tags: Mapping[str, Sequence[str]], base_url: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if tags.get("erc"):
        found["her:hasERCPanel"] = [
            {"@id": f"{VOCABULARIES}erc-panel-h2020-fp/{code}"} for code in tags["erc"]
        ]
    if tags.get("ford"):
        found["her:hasFORDClassification"] = [
            {"@id": f"{VOCABULARIES}fields-of-research-development/{code}"} for code in tags["ford"]
        ]
    others = [
        {"@id": f"{base_url}/taxonomies/{dimension}/{code}"}
        for dimension in ("s3", "ket", "ateco")
        for code in tags.get(dimension, [])
    ]
    if others:
        found["l0:hasTopic"] = others
    return found


def node(record: Record, *, base_url: str, names: Mapping[str, str]) -> dict[str, Any]:
    row = record.initiative
    event = row.kind in EVENT_KINDS
    kind_class = (
        ("schema:EducationEvent" if row.kind == "training" else "schema:Event")
        if event
        else "project:PublicResearchProject"
    )
    item: dict[str, Any] = {
        "@id": f"{base_url}/initiatives/{row.id}",
        "@type": ["l0:Activity", kind_class],
        "dcterms:identifier": row.id,
        "her:title": _texts(row.title),
        "her:initiativeType": row.kind,
        "her:status": row.status,
        "dcterms:created": _typed(row.created_at.isoformat(), "xsd:dateTime"),
        "dcterms:modified": _typed(row.updated_at.isoformat(), "xsd:dateTime"),
    }
    if row.description:
        item["l0:description" if event else "her:abstract"] = _texts(row.description)
    lead = organisation(row.centre_id, names)
    item["schema:organizer" if event else "her:hasCoordinator"] = lead
    contributors = [organisation(p.centre_id, names) for p in record.partners]
    contributors += [
        {
            "@type": "cov:Organization",
            "rdfs:label": other["name"],
            "schema:additionalType": other["kind"],
            "schema:addressCountry": other["country"],
        }
        for other in row.partner_organisations
    ]
    if contributors:
        item["dcterms:contributor"] = contributors
    if row.start_date:
        item["her:hasStartingDate"] = _instant(row.start_date)
    if row.end_date:
        item["her:hasEndingDate"] = _instant(row.end_date)
    if event and row.start_date:
        item["schema:startDate"] = _typed(row.start_date.isoformat(), "xsd:date")
        item["schema:endDate"] = _typed((row.end_date or row.start_date).isoformat(), "xsd:date")
        address = {
            "@type": "schema:PostalAddress",
            "schema:addressLocality": row.municipality,
            "schema:addressRegion": row.province,
            "schema:addressCountry": "IT",
        }
        place: dict[str, Any] = {"@type": "schema:Place", "schema:address": address}
        if row.venue:
            place["schema:name"] = row.venue
        item["schema:location"] = place
    if row.budget_eur is not None:
        item["her:totalInvestment"] = _typed(row.budget_eur, "xsd:decimal")
    if row.public_funding_eur is not None:
        item["her:totalGrant"] = _typed(row.public_funding_eur, "xsd:decimal")
    if row.funding_programme:
        grant: dict[str, Any] = {
            "@type": "schema:Grant",
            "schema:name": _texts(FUNDING_LABELS[row.funding_programme]),
        }
        if row.funding_call:
            grant["schema:identifier"] = row.funding_call
        item["schema:funding"] = grant
    item.update(_topics(row.tags, base_url))
    if row.links:
        item["rdfs:seeAlso"] = [{"@id": link["url"]} for link in row.links]
    return item


def document(
    records: Sequence[Record], *, base_url: str, names: Mapping[str, str]
) -> dict[str, Any]:
    return {
        "@context": CONTEXT,
        "@graph": [node(r, base_url=base_url, names=names) for r in records],
    }
