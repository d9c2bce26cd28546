"""The initiatives register: programmes, projects, joint actions, training and dissemination
events of the member centres, with overlap detection across centres (issue #12).

Routes (`api.py`, under `/api/v1/catalog`): `POST/GET /initiatives`, `GET/PATCH
/initiatives/{id}`, `POST /initiatives/{id}/partners/{centre_id}/confirmation`,
`GET /initiatives/overlaps`, `GET /initiatives/overlaps/{id}`,
`POST /initiatives/overlaps/{id}/resolution`, `GET /initiatives/calendar` and
`/initiatives/calendar.ics`, `GET /initiatives/export?format=jsonld`.

Who may do what:
- writing: the staff of an active member centre (`centre` role) registers initiatives, which
  it leads; only the lead centre changes one (PATCH, `If-Match` required; another centre gets
  403, also on a draft, as for labs); a suspended, withdrawn or unknown centre is a 409 (as for
  labs); the Region and other roles get 403;
- partner centres must be members of the platform (an organisation the membership events
  named active, 422 otherwise); each confirms its own participation (another centre
  confirming for it is a 403); until it does, it shows as `proposed`;
- reading: an initiative is public (anyone, anonymous included) once it is not a draft and its
  lead centre is an active member; the lead centre and the partner centres also see it as a
  draft; the Region sees everything. What a caller may not see is a 404;
- overlaps are listed for the committee (Region and centres) and resolved by the Region
  (`distinct` or `to_coordinate`), as duplicate pairs are.

Status: draft → planned → running → closed, forward only (a step back is a 409); closed is
final for the status. Drafts are private and have no events. Kinds: research_project,
innovation_project, joint_action, training, dissemination_event; the last two are events,
with a date (required), optional times, a place (province and comune, required) and
registered/attending participants. An initiative with at least one partner centre (two or
more member centres) is `joint`; the kind `joint_action` requires a partner centre.
"""
