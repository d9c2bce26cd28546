"""The catalog's taxonomies: real code lists, validation of tags, places."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.catalog import taxonomies
from services.catalog.schemas import CompetenceIn, Tags


def test_every_list_loads_with_source_and_licence() -> None:
    sizes = {name: len(taxonomies.get(name).terms) for name in taxonomies.NAMES}
    assert sizes["ateco"] > 3000 and sizes["erc"] > 300 and sizes["ford"] == 48
    assert sizes["trl"] == 9 and sizes["ket"] == 10 and sizes["provinces"] == 107
    assert sizes["municipalities"] > 7800 and sizes["service_kinds"] == 8
    for name in taxonomies.NAMES:
        taxonomy = taxonomies.get(name)
        assert taxonomy.source and taxonomy.licence, name


def test_codes_are_checked_and_canonical() -> None:
    assert taxonomies.check_codes("ateco", ["2651", "26.51", "C"]) == ["26.51", "C"]
    assert taxonomies.check_codes("erc", ["pe1_1"]) == ["PE1_1"]
    assert taxonomies.check_codes("ket", ["photonics"]) == ["photonics"]
    with pytest.raises(taxonomies.UnknownCodes) as raised:
        taxonomies.check_codes("ateco", ["99.99", "C", "ZZ"])
    assert raised.value.codes == ["99.99", "ZZ"]
    assert "'99.99'" in str(raised.value) and "ATECO 2025" in str(raised.value)


def test_closures_go_up_the_hierarchy() -> None:
    assert taxonomies.closure("ateco", ["71.20.1"]) == {"71.20.1", "71.20", "71.2", "71", "N"}
    assert taxonomies.closure("erc", ["LS6_1"]) == {"LS6_1", "LS6", "LS"}
    assert taxonomies.closure("s3", ["S3-2021.DIG"]) == {"S3-2021.DIG", "S3-2021"}
    assert taxonomies.closure("ford", ["2.5"]) == {"2.5", "2"}


def test_label_search_ignores_accents_and_case() -> None:
    found = taxonomies.get("ateco").search("ATTIVITA MANIFATTURIERE")
    assert found[0].code == "C"
    assert [t.code for t in taxonomies.get("s3").search("fabbrica")] == ["RIS3-2014.FI"]


def test_schemas_refuse_unknown_tags_naming_field_and_code() -> None:
    with pytest.raises(ValidationError) as raised:
        Tags(ateco=["71.20"], ket=["magic"])
    (error,) = raised.value.errors()
    assert error["loc"] == ("ket",) and "'magic'" in error["msg"]
    with pytest.raises(ValidationError) as raised:
        CompetenceIn(title={"it": "x"}, trl_min=7, trl_max=3)
    assert raised.value.errors()[0]["loc"] == ("trl_max",)


def test_places_are_istat_provinces_and_comuni() -> None:
    place = taxonomies.check_location("lu", "viareggio")
    assert (place.province, place.municipality, place.region) == ("LU", "Viareggio", "Toscana")
    assert taxonomies.check_location("SI", "radicondoli").province_name == "Siena"
    with pytest.raises(taxonomies.InvalidLocation) as raised:
        taxonomies.check_location("LU", "Empoli")
    assert raised.value.field == "municipality"
    with pytest.raises(taxonomies.InvalidLocation) as raised:
        taxonomies.check_location("XX", "Lucca")
    assert raised.value.field == "province"
