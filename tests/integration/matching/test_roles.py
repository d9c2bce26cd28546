"""Who sees and does what: a firm its own demands, a partner those it submitted, a centre the
introductions to its labs, the Region everything."""

from __future__ import annotations

from kernel.principal import Role
from tests.integration.matching.conftest import (
    OTHER_PARTNER,
    OTHER_VAT,
    PARTNER,
    REGION,
    THIRD_VAT,
    TLS,
    Catalogue,
    Service,
    as_,
)


async def test_each_role_sees_its_own(svc: Service, cat: Catalogue) -> None:
    partner = as_(Role.PARTNER, PARTNER)
    own_firm = await svc.firm()
    represented = await svc.firm(OTHER_VAT, headers=partner, name="Oleificio Maremma")
    third = await svc.firm(THIRD_VAT, headers=as_(Role.PARTNER, OTHER_PARTNER), name="Terzi")

    # A partner submits only for the firms it represents; a firm only for itself.
    refused = await svc.client.post(
        "/demands",
        json={"firm_id": third, "title": "t", "description": "d", "needs": [{"text": "n"}]},
        headers=partner,
    )
    assert refused.status_code == 403
    refused = await svc.client.post(
        "/demands",
        json={"firm_id": represented, "title": "t", "description": "d", "needs": [{"text": "n"}]},
        headers=as_(Role.FIRM, own_firm),
    )
    assert refused.status_code == 403

    by_firm = await svc.demand(own_firm, as_(Role.FIRM, own_firm))
    by_partner = await svc.demand(represented, partner)
    assert by_partner["partner_org_id"] == PARTNER
    by_region = await svc.demand(third, REGION)

    def ids(response: object) -> set[str]:
        return {d["id"] for d in response.json()["items"]}  # type: ignore[attr-defined]

    assert ids(await svc.client.get("/demands", headers=as_(Role.FIRM, own_firm))) == {
        by_firm["id"]
    }
    assert ids(await svc.client.get("/demands", headers=partner)) == {by_partner["id"]}
    assert ids(await svc.client.get("/demands", headers=REGION)) == {
        by_firm["id"],
        by_partner["id"],
        by_region["id"],
    }
    # The represented firm itself sees the demand submitted for it.
    assert ids(await svc.client.get("/demands", headers=as_(Role.FIRM, represented))) == {
        by_partner["id"]
    }
    for headers in (partner, as_(Role.FIRM, represented), as_(Role.CENTRE, TLS)):
        response = await svc.client.get(f"/demands/{by_firm['id']}", headers=headers)
        assert response.status_code == 403
        response = await svc.client.get(f"/demands/{by_firm['id']}/matches", headers=headers)
        assert response.status_code == 403
    assert (await svc.client.get("/demands", headers=as_(Role.ANONYMOUS))).status_code == 403

    # Firms: the partner sees those it registered, the firm itself.
    firms = await svc.client.get("/firms", headers=partner)
    assert [f["id"] for f in firms.json()["items"]] == [represented]
    assert (await svc.client.get(f"/firms/{third}", headers=partner)).status_code == 403
    assert (await svc.client.get(f"/firms/{own_firm}", headers=as_(Role.FIRM, own_firm))).json()[
        "id"
    ] == own_firm

    # A centre sees a demand once one of its labs is introduced, and only then.
    await svc.client.post(
        f"/demands/{by_partner['id']}/introductions",
        json={"lab_id": cat.olive.id},
        headers=partner,
    )
    centre = as_(Role.CENTRE, TLS)
    assert ids(await svc.client.get("/demands", headers=centre)) == {by_partner["id"]}
    introductions = await svc.client.get("/introductions?status=pending", headers=centre)
    assert [i["demand_id"] for i in introductions.json()["items"]] == [by_partner["id"]]
    assert (await svc.client.get("/introductions", headers=as_(Role.FIRM, own_firm))).json()[
        "items"
    ] == []


async def test_lists_are_paginated_with_cursors(svc: Service) -> None:
    firm_id = await svc.firm()
    firm = as_(Role.FIRM, firm_id)
    created = [(await svc.demand(firm_id, firm, title=f"Domanda {n}"))["id"] for n in range(3)]
    first = (await svc.client.get("/demands?limit=2", headers=firm)).json()
    assert [d["id"] for d in first["items"]] == created[:2] and first["next_cursor"]
    second = (
        await svc.client.get(f"/demands?limit=2&cursor={first['next_cursor']}", headers=firm)
    ).json()
    assert [d["id"] for d in second["items"]] == created[2:] and second["next_cursor"] is None
    bad = await svc.client.get("/demands?cursor=nonsense", headers=firm)
    assert bad.status_code == 422
