"""SQLAlchemy models of the catalog service.

Every catalogue row has a `version` that starts at 1 and is incremented by the service on each
change; SQLAlchemy checks it on UPDATE (`version_id_col`), so two concurrent writers of one row
cannot both succeed. The version is the events' `aggregateversion` and the ETag.

Text in two languages is stored as a JSON language map (`{"it": ..., "en": ...}`). Entries are
deleted softly (`deleted_at`), so that versions keep increasing and duplicate pairs keep their
history. `members` is the projection of the membership events; `search_*` is the search index
(published entries only) that `search.py` maintains.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from kernel.db import UTCDateTime


class Base(DeclarativeBase):
    pass


def external_id_index(table: str) -> Index:
    """One live row per centre and identifier of the centre's own."""
    live = text("external_id IS NOT NULL AND deleted_at IS NULL")
    return Index(
        f"ux_{table}_external_id",
        "centre_id",
        "external_id",
        unique=True,
        sqlite_where=live,
        postgresql_where=live,
    )


class Member(Base):
    """What the catalogue knows of an organisation, from the membership events."""

    __tablename__ = "members"

    organisation_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    acronym: Mapped[str | None] = mapped_column(String(30))
    province: Mapped[str | None] = mapped_column(String(2))
    role: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str | None] = mapped_column(String(20))
    """active, suspended, withdrawn, expired; null: registered, never a member."""
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Lab(Base):
    __tablename__ = "labs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    centre_id: Mapped[str] = mapped_column(String(36))
    name: Mapped[dict[str, str]] = mapped_column(JSON)
    description: Mapped[dict[str, str]] = mapped_column(JSON)
    province: Mapped[str] = mapped_column(String(2))
    municipality: Mapped[str] = mapped_column(String(100))
    accreditations: Mapped[list[str]] = mapped_column(JSON)
    access_modes: Mapped[list[str]] = mapped_column(JSON)
    contact_email: Mapped[str | None] = mapped_column(String(254))
    external_id: Mapped[str | None] = mapped_column(String(100), default=None)
    """The centre's own identifier (imports match rows by it)."""
    status: Mapped[str] = mapped_column(String(20))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_labs_created", "created_at", "id"),
        Index("ix_labs_centre", "centre_id", "created_at"),
        external_id_index("labs"),
    )
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}


class _Entry:
    """Columns every entry of a lab has; its status follows the lab's."""

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    lab_id: Mapped[str] = mapped_column(String(36), ForeignKey("labs.id"))
    centre_id: Mapped[str] = mapped_column(String(36))
    tags: Mapped[dict[str, list[str]]] = mapped_column(JSON)
    external_id: Mapped[str | None] = mapped_column(String(100), default=None)
    """The centre's own identifier (imports match rows by it)."""
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer)


class Competence(_Entry, Base):
    __tablename__ = "competences"

    title: Mapped[dict[str, str]] = mapped_column(JSON)
    description: Mapped[dict[str, str]] = mapped_column(JSON)
    trl_min: Mapped[int] = mapped_column(Integer)
    trl_max: Mapped[int] = mapped_column(Integer)
    keywords: Mapped[list[str]] = mapped_column(JSON)

    __table_args__ = (
        Index("ix_competences_created", "created_at", "id"),
        Index("ix_competences_lab", "lab_id", "created_at"),
        external_id_index("competences"),
    )
    __mapper_args__ = {"version_id_col": _Entry.version, "version_id_generator": False}


class Equipment(_Entry, Base):
    __tablename__ = "equipment"

    name: Mapped[dict[str, str]] = mapped_column(JSON)
    description: Mapped[dict[str, str]] = mapped_column(JSON)
    category: Mapped[str | None] = mapped_column(String(100))
    manufacturer: Mapped[str | None] = mapped_column(String(100))
    model: Mapped[str | None] = mapped_column(String(100))
    year: Mapped[int | None] = mapped_column(Integer)
    shareable: Mapped[bool] = mapped_column(Boolean)
    tariff_eur_per_hour: Mapped[str | None] = mapped_column(String(20))
    """A decimal string with two decimals, e.g. `85.00`."""
    booking_conditions: Mapped[dict[str, str] | None] = mapped_column(JSON)

    __table_args__ = (
        Index("ix_equipment_created", "created_at", "id"),
        Index("ix_equipment_lab", "lab_id", "created_at"),
        external_id_index("equipment"),
    )
    __mapper_args__ = {"version_id_col": _Entry.version, "version_id_generator": False}


class ServiceOffering(_Entry, Base):
    __tablename__ = "service_offerings"

    name: Mapped[dict[str, str]] = mapped_column(JSON)
    kind: Mapped[str] = mapped_column(String(30))
    description: Mapped[dict[str, str]] = mapped_column(JSON)
    price_model: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        Index("ix_service_offerings_created", "created_at", "id"),
        Index("ix_service_offerings_lab", "lab_id", "created_at"),
        external_id_index("service_offerings"),
    )
    __mapper_args__ = {"version_id_col": _Entry.version, "version_id_generator": False}


class SearchDocument(Base):
    """One published lab or entry, or one initiative that is not a draft, in the search index,
    with what filters and facets need."""

    __tablename__ = "search_documents"

    entry_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    entity: Mapped[str] = mapped_column(String(20))
    lab_id: Mapped[str | None] = mapped_column(String(36))
    """The entry's lab (a lab's own id); null for an initiative, which belongs to no lab."""
    centre_id: Mapped[str] = mapped_column(String(36))
    """The owning centre (an initiative's lead centre)."""
    province: Mapped[str] = mapped_column(String(2))
    """Empty when unknown (an initiative without a place whose lead centre has none)."""
    kind: Mapped[str | None] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(20))
    """`published` for labs and entries (only those are indexed); an initiative's status."""
    shareable: Mapped[bool | None] = mapped_column(Boolean)
    trl_min: Mapped[int | None] = mapped_column(Integer)
    trl_max: Mapped[int | None] = mapped_column(Integer)
    title: Mapped[dict[str, str]] = mapped_column(JSON)
    text: Mapped[dict[str, str]] = mapped_column(JSON)
    """The description by language, for snippets."""
    tags: Mapped[dict[str, list[str]]] = mapped_column(JSON)
    signature: Mapped[dict[str, Any]] = mapped_column(JSON)
    """Terms and manufacturer/model key compared by duplicate detection."""
    length: Mapped[float] = mapped_column(Float)
    """Sum of the term weights (BM25 document length)."""

    __table_args__ = (
        Index("ix_search_documents_entity", "entity", "centre_id"),
        Index("ix_search_documents_lab", "lab_id"),
    )


class SearchPosting(Base):
    """A term of a document and its weight (occurrences weighted by field)."""

    __tablename__ = "search_postings"

    entry_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("search_documents.entry_id"), primary_key=True
    )
    term: Mapped[str] = mapped_column(String(100), primary_key=True)
    weight: Mapped[float] = mapped_column(Float)

    __table_args__ = (Index("ix_search_postings_term", "term", "entry_id"),)


class SearchTag(Base):
    """A tag of a document and every code above it, for hierarchical filters."""

    __tablename__ = "search_tags"

    entry_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("search_documents.entry_id"), primary_key=True
    )
    dimension: Mapped[str] = mapped_column(String(10), primary_key=True)
    code: Mapped[str] = mapped_column(String(30), primary_key=True)

    __table_args__ = (Index("ix_search_tags_code", "dimension", "code", "entry_id"),)


class DuplicatePair(Base):
    """Two entries of different centres that look alike; a < b by id, so a pair is unique."""

    __tablename__ = "duplicate_pairs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    entity: Mapped[str] = mapped_column(String(20))
    a_id: Mapped[str] = mapped_column(String(36))
    a_centre_id: Mapped[str] = mapped_column(String(36))
    a_lab_id: Mapped[str] = mapped_column(String(36))
    b_id: Mapped[str] = mapped_column(String(36))
    b_centre_id: Mapped[str] = mapped_column(String(36))
    b_lab_id: Mapped[str] = mapped_column(String(36))
    similarity: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    """open, distinct or shared."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by_role: Mapped[str | None] = mapped_column(String(20))
    resolved_by_org_id: Mapped[str | None] = mapped_column(String(36))
    resolved_by_key_id: Mapped[str | None] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        UniqueConstraint("entity", "a_id", "b_id", name="uq_duplicate_pairs_entries"),
        Index("ix_duplicate_pairs_status", "status", "created_at", "id"),
        Index("ix_duplicate_pairs_b", "b_id"),
    )
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}


class DemoData(Base):
    """A marker row written in the same transaction as the demo data (one fixed id)."""

    __tablename__ = "demo_data"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    labs: Mapped[int] = mapped_column(Integer)


class ImportJob(Base):
    """An import of a spreadsheet into a centre's catalogue, run by any replica
    (transfer/jobs.py). The file is kept until the job ends; `next_row` is where a replica that
    takes over a job resumes (rows before it are committed with the counters)."""

    __tablename__ = "import_jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    centre_id: Mapped[str] = mapped_column(String(36))
    entity: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    filename: Mapped[str | None] = mapped_column(String(255))
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    mapping: Mapped[dict[str, str]] = mapped_column(JSON)
    publish: Mapped[bool] = mapped_column(Boolean)
    rows_total: Mapped[int] = mapped_column(Integer)
    next_row: Mapped[int] = mapped_column(Integer)
    rows_ok: Mapped[int] = mapped_column(Integer)
    rows_failed: Mapped[int] = mapped_column(Integer)
    created: Mapped[int] = mapped_column(Integer)
    updated: Mapped[int] = mapped_column(Integer)
    unchanged: Mapped[int] = mapped_column(Integer)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    requested_by_role: Mapped[str] = mapped_column(String(20))
    requested_by_org_id: Mapped[str | None] = mapped_column(String(36))
    requested_by_key_id: Mapped[str | None] = mapped_column(String(100))
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_import_jobs_status", "status", "created_at"),
        Index("ix_import_jobs_centre", "centre_id", "created_at", "id"),
    )


class ImportMapping(Base):
    """The column mapping a centre last used for an entity, reused by its next import."""

    __tablename__ = "import_mappings"

    centre_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    entity: Mapped[str] = mapped_column(String(20), primary_key=True)
    mapping: Mapped[dict[str, str]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


# The initiatives register's tables live on this Base too (Alembic and the migration test read
# `Base.metadata` from this module).
from services.catalog.initiatives import models as _initiatives  # noqa: E402, F401
