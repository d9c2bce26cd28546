"""CLOCK catalog service: labs, competences, equipment and service offerings of member
centres; bilingual search with facets; near-duplicates across centres; taxonomies.

- Only the staff of an active member centre writes its own labs and entries; anyone reads the
  published entries of active members; a centre reads its own entries in any status; the Region
  reads everything. Membership comes from the membership service's events.
- Text is a language map `{"it": ..., "en": ...}`; tags are codes of the taxonomies served at
  `/taxonomies` (ATECO 2025, Tuscany S3, KETs, ERC panels, OECD FORD).
- `ETag` on reads, `If-Match` required on PATCH (428 without, 412 when stale); lists are
  paged with `limit` and an opaque `cursor`.
- `/search` ranks published entries by BM25 over the service's own index (Italian and English
  stemming, accents and stop words ignored) and counts facets; creating or updating equipment,
  a competence or a service returns `possible_duplicates` at other centres, listed at
  `/duplicates` for the committee.
- `/initiatives` is the register of the centres' programmes, projects, joint actions, training
  and dissemination events, with overlaps across centres (`/initiatives/overlaps`), a public
  calendar of events (also as iCalendar, `/initiatives/calendar.ics`) and a JSON-LD export
  aligned with HER-AP_IT (`/initiatives/export?format=jsonld`).
"""
