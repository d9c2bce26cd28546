"""CLOCK membership service: organisations, adhesion applications, memberships, the protocol term
and the coordination committee.

- Signatories: the Regione Toscana (role `region`) and the six founding centres ASEV, COSVIG,
  CPTM, LUCENSE, NAVIGO and Toscana Life Sciences (role `founding`), loaded at first start with
  fixed ids; later members are `adhering`. The protocol lasts three years and can be renewed
  (the Region) while in force; when its term ends unrenewed, memberships become `expired`.
- Applying is open to anyone (also anonymous): the answer carries the automatic eligibility
  checks and a token, shown once, to follow the application. The Region records the committee's
  decision (admit or reject, with motivation); admission makes an active `adhering` member and
  appoints the proposed representative.
- Lifecycle: active → suspended → active | withdrawn | expired; illegal transitions are 409 with
  the `allowed` actions. Every transition keeps actor, time and reason (`/members/{id}/history`).
- Organisations and members are public (no personal data). The committee and representatives
  (personal data) are for the Region and centres; a centre changes only its own organisation and
  representative. Applications are for the Region, or whoever holds the token.
- `ETag` on reads, `If-Match` required on PATCH (428 without, 412 when stale); lists are paged
  with `limit` and an opaque `cursor`; request bodies over 1 MiB are 413.
"""
