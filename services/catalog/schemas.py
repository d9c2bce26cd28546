"""Request and response bodies of the catalog API (field names follow DESIGN.md).

Text that exists in two languages is a language map `{"it": ..., "en": ...}`: either may be
missing, not both. Tags are `{"ateco": [], "s3": [], "ket": [], "erc": [], "ford": []}` of codes
of the catalogue's taxonomies; an unknown code is a 422 naming the field and the code. A PATCH
replaces each field it names as a whole (a language map or a list included).
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from kernel.openapi import NOT_BLANK, decimal_json_schema, patch_body_schema
from services.catalog import taxonomies


class EntryStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"


class ServiceKind(StrEnum):
    TESTING = "testing"
    CERTIFICATION = "certification"
    PROTOTYPING = "prototyping"
    CONSULTING = "consulting"
    TRAINING = "training"
    TECHNOLOGY_SCOUTING = "technology_scouting"
    IP_SUPPORT = "ip_support"
    FUNDING_SUPPORT = "funding_support"


class Entity(StrEnum):
    LAB = "lab"
    COMPETENCE = "competence"
    EQUIPMENT = "equipment"
    SERVICE = "service"


class PairStatus(StrEnum):
    OPEN = "open"
    DISTINCT = "distinct"
    SHARED = "shared"


class Language(StrEnum):
    IT = "it"
    EN = "en"


# -- limits ---------------------------------------------------------------------------------

NAME_MAX = 200
DESCRIPTION_MAX = 5000
CONDITIONS_MAX = 2000
SHORT_MAX = 100
KEYWORD_MAX = 60
LIST_MAX = 30
CODE_MAX = 30


NameStr = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, pattern=NOT_BLANK, max_length=NAME_MAX),
]
DescriptionStr = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, pattern=NOT_BLANK, max_length=DESCRIPTION_MAX
    ),
]
ConditionsStr = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, pattern=NOT_BLANK, max_length=CONDITIONS_MAX
    ),
]
ShortStr = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, pattern=NOT_BLANK, max_length=SHORT_MAX),
]
KeywordStr = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, pattern=NOT_BLANK, max_length=KEYWORD_MAX
    ),
]
CodeStr = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, pattern=NOT_BLANK, max_length=CODE_MAX),
]

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _email(value: str) -> str:
    if not EMAIL.match(value):
        raise ValueError("not an e-mail address")
    return value.lower()


Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=254),
    AfterValidator(_email),
    # The schema states what the validator checks (surrounding blanks are stripped first).
    Field(json_schema_extra={"pattern": r"^\s*[^@\s]+@[^@\s]+\.[^@\s]+\s*$"}),
]
ProvinceCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z]{2}$"),
    Field(description="ISTAT two-letter code (sigla), e.g. LU."),
]
Municipality = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, pattern=NOT_BLANK, max_length=SHORT_MAX),
    Field(description="Comune; must belong to the province."),
]
TRL = Annotated[int, Field(ge=1, le=9, description="Technology readiness level (EU, 1-9).")]
Tariff = Annotated[
    Decimal,
    Field(
        ge=0,
        le=Decimal("999999.99"),
        max_digits=8,
        decimal_places=2,
        description='EUR per hour, a decimal string such as "85.00" (numbers accepted).',
    ),
    WithJsonSchema(decimal_json_schema(integer_digits=6, places=2)),
]


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: end.")


# -- language maps and tags -----------------------------------------------------------------


class _LanguageMap(In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "anyOf": [
                {"required": [lang], "properties": {lang: {"type": "string"}}}
                for lang in ("it", "en")
            ]
        },
    )

    @model_validator(mode="after")
    def _one_language(self) -> _LanguageMap:
        if not any(getattr(self, lang) for lang in ("it", "en")):
            raise ValueError('give the text in Italian ("it"), English ("en") or both')
        return self

    def as_dict(self) -> dict[str, str]:
        return {lang: text for lang in ("it", "en") if (text := getattr(self, lang))}


class NameText(_LanguageMap):
    """A name or title in Italian and/or English (up to 200 characters each)."""

    it: NameStr | None = None
    en: NameStr | None = None


class DescriptionText(_LanguageMap):
    """A description in Italian and/or English (up to 5000 characters each)."""

    it: DescriptionStr | None = None
    en: DescriptionStr | None = None


class ConditionsText(_LanguageMap):
    """Conditions in Italian and/or English (up to 2000 characters each)."""

    it: ConditionsStr | None = None
    en: ConditionsStr | None = None


class Tags(In):
    """Codes of the taxonomies (`GET /taxonomies/{name}`); compact ATECO codes are accepted."""

    ateco: list[CodeStr] = Field(default_factory=list, max_length=LIST_MAX)
    s3: list[CodeStr] = Field(default_factory=list, max_length=LIST_MAX)
    ket: list[CodeStr] = Field(default_factory=list, max_length=LIST_MAX)
    erc: list[CodeStr] = Field(default_factory=list, max_length=LIST_MAX)
    ford: list[CodeStr] = Field(default_factory=list, max_length=LIST_MAX)

    @field_validator(*taxonomies.TAG_DIMENSIONS)
    @classmethod
    def _known(cls, codes: list[str], info: ValidationInfo) -> list[str]:
        assert info.field_name is not None
        return taxonomies.check_codes(info.field_name, codes)  # UnknownCodes: 422

    def as_dict(self) -> dict[str, list[str]]:
        return {
            dimension: list(getattr(self, dimension)) for dimension in taxonomies.TAG_DIMENSIONS
        }


class TagsOut(Out):
    ateco: list[str] = Field(default_factory=list)
    s3: list[str] = Field(default_factory=list)
    ket: list[str] = Field(default_factory=list)
    erc: list[str] = Field(default_factory=list)
    ford: list[str] = Field(default_factory=list)


class _Patch(In):
    """Any subset of the fields; required ones cannot be set to null."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=patch_body_schema)

    required: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="after")
    def _not_empty(self) -> _Patch:
        if not self.model_fields_set:
            raise ValueError("nothing to change")
        for name in self.required:
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}


# -- labs -----------------------------------------------------------------------------------


class LabIn(In):
    name: NameText
    description: DescriptionText | None = None
    province: ProvinceCode
    municipality: Municipality
    accreditations: list[ShortStr] = Field(
        default_factory=list, max_length=20, description="E.g. ISO/IEC 17025 (ACCREDIA)."
    )
    access_modes: list[ShortStr] = Field(
        default_factory=list,
        max_length=10,
        description="How firms and centres use the lab, e.g. contract research, equipment hire.",
    )
    contact_email: Email | None = None


class LabPatch(_Patch):
    required = ("name", "province", "municipality", "accreditations", "access_modes")

    name: NameText | None = None
    description: DescriptionText | None = None
    province: ProvinceCode | None = None
    municipality: Municipality | None = None
    accreditations: list[ShortStr] | None = Field(default=None, max_length=20)
    access_modes: list[ShortStr] | None = Field(default=None, max_length=10)
    contact_email: Email | None = None


class PossibleDuplicate(Out):
    entity: Entity
    id: str
    centre_id: str
    lab_id: str
    similarity: float
    reason: str
    pair_id: str | None = Field(
        description="The stored pair (`GET /duplicates`); null while this entry is a draft."
    )


class LabOut(Out):
    id: str
    lab_id: str = Field(description="The lab's own id (every catalogue response has one).")
    centre_id: str
    name: dict[str, str]
    description: dict[str, str]
    province: str
    municipality: str
    accreditations: list[str]
    access_modes: list[str]
    contact_email: str | None
    external_id: str | None = Field(
        default=None, description="The centre's own identifier (set by imports)."
    )
    status: EntryStatus
    published_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int


class LabWritten(LabOut):
    possible_duplicates: list[PossibleDuplicate] = Field(
        default_factory=list, description="Labs are not compared: always empty."
    )


# -- competences ----------------------------------------------------------------------------


def _trl_range(trl_max: int | None, info: ValidationInfo) -> int | None:
    trl_min = info.data.get("trl_min")
    if trl_max is not None and trl_min is not None and trl_max < trl_min:
        raise ValueError(f"trl_max ({trl_max}) must not be lower than trl_min ({trl_min})")
    return trl_max


class CompetenceIn(In):
    title: NameText
    description: DescriptionText | None = None
    trl_min: TRL
    trl_max: TRL
    keywords: list[KeywordStr] = Field(default_factory=list, max_length=LIST_MAX)
    tags: Tags = Field(default_factory=lambda: Tags())

    check_trl_range = field_validator("trl_max")(_trl_range)


class CompetencePatch(_Patch):
    required = ("title", "trl_min", "trl_max", "keywords", "tags")

    title: NameText | None = None
    description: DescriptionText | None = None
    trl_min: TRL | None = None
    trl_max: TRL | None = None
    keywords: list[KeywordStr] | None = Field(default=None, max_length=LIST_MAX)
    tags: Tags | None = None

    check_trl_range = field_validator("trl_max")(_trl_range)


class _EntryOut(Out):
    id: str
    lab_id: str
    centre_id: str
    status: EntryStatus = Field(description="Follows the lab's.")
    external_id: str | None = Field(
        default=None, description="The centre's own identifier (set by imports)."
    )
    tags: TagsOut
    created_at: datetime
    updated_at: datetime
    version: int


class CompetenceOut(_EntryOut):
    title: dict[str, str]
    description: dict[str, str]
    trl_min: int
    trl_max: int
    keywords: list[str]


class CompetenceWritten(CompetenceOut):
    possible_duplicates: list[PossibleDuplicate]


# -- equipment ------------------------------------------------------------------------------


class EquipmentIn(In):
    name: NameText
    description: DescriptionText | None = None
    category: ShortStr | None = Field(default=None, description="E.g. electron microscopy.")
    manufacturer: ShortStr | None = None
    model: ShortStr | None = None
    year: int | None = Field(default=None, ge=1900, le=2100)
    shareable: bool = False
    tariff_eur_per_hour: Tariff | None = None
    booking_conditions: ConditionsText | None = None
    tags: Tags = Field(default_factory=lambda: Tags())


class EquipmentPatch(_Patch):
    required = ("name", "shareable", "tags")

    name: NameText | None = None
    description: DescriptionText | None = None
    category: ShortStr | None = None
    manufacturer: ShortStr | None = None
    model: ShortStr | None = None
    year: int | None = Field(default=None, ge=1900, le=2100)
    shareable: bool | None = None
    tariff_eur_per_hour: Tariff | None = None
    booking_conditions: ConditionsText | None = None
    tags: Tags | None = None


class EquipmentOut(_EntryOut):
    name: dict[str, str]
    description: dict[str, str]
    category: str | None
    manufacturer: str | None
    model: str | None
    year: int | None
    shareable: bool
    tariff_eur_per_hour: str | None = Field(description="EUR per hour, a decimal string.")
    booking_conditions: dict[str, str] | None


class EquipmentWritten(EquipmentOut):
    possible_duplicates: list[PossibleDuplicate]


# -- service offerings ----------------------------------------------------------------------


class ServiceIn(In):
    name: NameText
    kind: ServiceKind
    description: DescriptionText | None = None
    price_model: (
        Annotated[
            str,
            StringConstraints(
                strip_whitespace=True, min_length=1, pattern=NOT_BLANK, max_length=NAME_MAX
            ),
        ]
        | None
    ) = Field(default=None, description="E.g. per sample, hourly rate, on quotation.")
    tags: Tags = Field(default_factory=lambda: Tags())


class ServicePatch(_Patch):
    required = ("name", "kind", "tags")

    name: NameText | None = None
    kind: ServiceKind | None = None
    description: DescriptionText | None = None
    price_model: (
        Annotated[
            str,
            StringConstraints(
                strip_whitespace=True, min_length=1, pattern=NOT_BLANK, max_length=NAME_MAX
            ),
        ]
        | None
    ) = None
    tags: Tags | None = None


class ServiceOut(_EntryOut):
    name: dict[str, str]
    kind: ServiceKind
    description: dict[str, str]
    price_model: str | None


class ServiceWritten(ServiceOut):
    possible_duplicates: list[PossibleDuplicate]


# -- search ---------------------------------------------------------------------------------


class SearchEntity(StrEnum):
    """What search finds: the catalogue's entities (`Entity`, which duplicates and exports
    share) and the initiatives of the register."""

    LAB = Entity.LAB.value
    COMPETENCE = Entity.COMPETENCE.value
    EQUIPMENT = Entity.EQUIPMENT.value
    SERVICE = Entity.SERVICE.value
    INITIATIVE = "initiative"


class SearchKind(StrEnum):
    """A service offering's kind or an initiative's (`initiatives.schemas.InitiativeKind`, not
    imported: that module builds on this one). `training` is both."""

    TESTING = ServiceKind.TESTING.value
    CERTIFICATION = ServiceKind.CERTIFICATION.value
    PROTOTYPING = ServiceKind.PROTOTYPING.value
    CONSULTING = ServiceKind.CONSULTING.value
    TRAINING = ServiceKind.TRAINING.value
    TECHNOLOGY_SCOUTING = ServiceKind.TECHNOLOGY_SCOUTING.value
    IP_SUPPORT = ServiceKind.IP_SUPPORT.value
    FUNDING_SUPPORT = ServiceKind.FUNDING_SUPPORT.value
    RESEARCH_PROJECT = "research_project"
    INNOVATION_PROJECT = "innovation_project"
    JOINT_ACTION = "joint_action"
    DISSEMINATION_EVENT = "dissemination_event"


class SearchStatus(StrEnum):
    """Statuses in the index: labs and entries are there only when published, initiatives
    unless they are drafts."""

    PUBLISHED = EntryStatus.PUBLISHED.value
    PLANNED = "planned"
    RUNNING = "running"
    CLOSED = "closed"


class SearchItem(Out):
    entity: SearchEntity
    id: str = Field(description="The id at its own path: `/labs/{id}`, ..., `/initiatives/{id}`.")
    lab_id: str | None = Field(description="The lab (a lab's own id); null for an initiative.")
    centre_id: str = Field(description="The owning centre; an initiative's lead centre.")
    province: str = Field(
        description="ISTAT code; an initiative's: its event's, else its lead centre's ('' if "
        "unknown)."
    )
    kind: SearchKind | None = Field(description="A service offering's or an initiative's kind.")
    status: SearchStatus
    title: str
    score: float = Field(description="BM25 relevance (0 without a query).")
    snippet: str


class SearchPage(Page[SearchItem]):
    total: int = Field(description="Matching documents on every page.")
    facets: dict[str, dict[str, int]] = Field(
        description="Counts of the matching documents by entity, province, centre, kind (of "
        "service offerings and initiatives), status, tag (ateco, s3, ket, erc, ford), trl "
        "(levels covered) and shareable."
    )


# -- duplicates -----------------------------------------------------------------------------


class EntryRef(Out):
    entity: Entity
    id: str
    centre_id: str
    lab_id: str


class ActorOut(Out):
    role: str
    org_id: str | None
    key_id: str | None


class DuplicatePairOut(Out):
    id: str
    a: EntryRef
    b: EntryRef
    similarity: float
    reason: str
    status: PairStatus
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    resolved_by: ActorOut | None


class ResolutionIn(In):
    resolution: Annotated[
        PairStatus,
        Field(
            description="distinct (not the same thing) or shared (to be shared)",
            json_schema_extra={"enum": [PairStatus.DISTINCT.value, PairStatus.SHARED.value]},
        ),
    ]

    @field_validator("resolution")
    @classmethod
    def _not_open(cls, value: PairStatus) -> PairStatus:
        if value is PairStatus.OPEN:
            raise ValueError("resolution must be distinct or shared")
        return value


# -- taxonomies -----------------------------------------------------------------------------


class TaxonomyOut(Out):
    name: str
    title: dict[str, str]
    source: str
    licence: str
    tag: bool = Field(description="Its codes are used in entries' tags.")
    size: int


class TermOut(Out):
    code: str
    label: dict[str, str]
    parent: str | None
    level: str
    description: dict[str, str] | None = None
    attributes: dict[str, Any] | None = None


# -- import and export ------------------------------------------------------------------------


class ImportStatus(StrEnum):
    VALIDATED = "validated"
    """A dry run: the report of what an import would do; nothing was written."""
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class RowProblem(Out):
    row: int | None = Field(description="Spreadsheet row (the header is row 1); null: the file.")
    column: str | None = Field(description="The column's header as in the file.")
    value: str | None = Field(description="The cell's text.")
    problem: str


class ImportOut(Out):
    id: str | None = Field(description="Null for a dry run (nothing is stored).")
    centre_id: str
    entity: Entity
    status: ImportStatus
    dry_run: bool
    publish: bool = Field(description="Labs are published once imported.")
    filename: str | None
    mapping: dict[str, str] = Field(description="Column header -> field, as applied.")
    unmapped_headers: list[str] = Field(description="Columns of the file left out.")
    rows_total: int
    rows_done: int = Field(description="Rows applied or failed so far.")
    rows_ok: int
    rows_failed: int
    created: int
    updated: int
    unchanged: int
    errors: list[RowProblem]
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None


class ImportFieldOut(Out):
    name: str
    kind: str
    required: bool
    synonyms: list[str] = Field(description="Headers recognised for it (folded).")
    taxonomy: str | None = None


class ExportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    JSON = "json"
    CERIF = "cerif"
