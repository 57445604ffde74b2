"""SQLAlchemy tables of the directory, one per entity of the model, plus users, grants and the outbox."""

from lotse_kit.outbox import outbox_table
from lotse_kit.sql import UtcDateTime
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    cast,
    true,
)

from lotse_directory.domain.hsds import EntitySpec, FieldSpec, entities

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

REVISION = "lotse_revision"
"""Column that counts an entry's versions; the ETag is built from it."""


def _column(f: FieldSpec) -> Column[object]:
    if f.name == "id":
        return Column("id", String(64), primary_key=True)
    if f.references or f.format == "uuid":
        return Column(f.name, String(64), index=bool(f.references))
    if f.type == "number":
        return Column(f.name, Float)
    if f.type == "boolean":
        return Column(f.name, Boolean)
    if f.type == "array":
        return Column(f.name, JSON)
    return Column(f.name, Text)


def _entity_table(spec: EntitySpec) -> Table:
    table = Table(
        spec.name,
        metadata,
        *(_column(f) for f in spec.fields),
        Column(REVISION, Integer, nullable=False, default=1),
        Column("lotse_created_at", UtcDateTime(), nullable=False),
        Column("lotse_updated_at", UtcDateTime(), nullable=False),
    )
    return table


entity_tables: dict[str, Table] = {name: _entity_table(spec) for name, spec in entities().items()}

Index(
    "ix_jurisdiction_domain_region",
    entity_tables["jurisdiction"].c.legal_domain,
    entity_tables["jurisdiction"].c.region_key,
)
Index("ix_attribute_link_id", entity_tables["attribute"].c.link_id)
AUTHORITIES = and_(
    entity_tables["organization"].c.authority_for.is_not(None),
    cast(entity_tables["organization"].c.authority_for, Text).not_in(["[]", "null"]),
)
"""Organisations that are authorities of some legal domain (none may be stored as JSON null or [])."""
Index(  # the few authorities among many organisations, by name (the jurisdictions page lists them)
    "ix_organization_authorities",
    entity_tables["organization"].c.name,
    sqlite_where=AUTHORITIES,
    postgresql_where=AUTHORITIES,
)
Index("ix_metadata_resource_id", entity_tables["metadata"].c.resource_id)

users = Table(
    "lotse_user",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("role", String(32), nullable=False),
    Column("organization_id", String(64)),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("regions", JSON, comment="region keys whose jurisdictions the user keeps"),
    Column("password_hash", Text, comment="embedded mode: Argon2id hash of the user's password (none: no login)"),
    Column("email", Text, comment="where an admin sends the user's invitation (optional)"),
    Column("active", Boolean, nullable=False, server_default=true(), comment="false: deactivated, no login"),
    Column("password_link", String(64), comment="the nonce of the user's open invitation or reset link"),
)

login_attempts = Table(
    "lotse_login_attempt",
    metadata,
    Column("login", String(64), primary_key=True, comment="as typed, whether a user has it or not"),
    Column("failures", Integer, nullable=False),
    Column("locked_until", UtcDateTime()),
    comment="Embedded mode's logins: failed attempts in a row, and until when a login is refused after too many",
)

maintainer_grants = Table(
    "lotse_maintainer_grant",
    metadata,
    Column("organization_id", String(64), primary_key=True, comment="the organisation that may be edited"),
    Column(
        "maintainer_organization_id",
        String(64),
        primary_key=True,
        comment="the organisation whose maintainers may edit it",
    ),
    Column("created_at", UtcDateTime(), nullable=False),
)

outbox = outbox_table(metadata)

provider_replies = Table(
    "lotse_provider_reply",
    metadata,
    Column("link_id", String(64), primary_key=True, comment="the confirmation link answered (each answers once)"),
    Column("service_id", String(64), nullable=False, index=True),
    Column("organization_id", String(64), nullable=False, index=True, comment="the offer's, when the link was made"),
    Column("kind", String(12), nullable=False, comment="confirmed or correction"),
    Column("text", Text, comment="what the provider says is wrong"),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("issued_by", String(200), nullable=False, comment="the maintainer who made the link"),
    Column("done_at", UtcDateTime(), comment="when a maintainer dealt with the correction"),
    Column("done_by", String(200)),
    comment="What an offer's provider answered through a signed confirmation link (no account needed)",
)

notification_channels = Table(
    "lotse_notification_channel",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("organization_id", String(64), nullable=False, index=True, comment="the organisation that is told"),
    Column("kind", String(10), nullable=False, comment="webhook or email"),
    Column("target", Text, nullable=False, comment="the webhook's URL or the e-mail address"),
    Column("secrets", JSON, nullable=False, comment="a webhook's secrets, newest first, each with its expiry"),
    Column("enabled", Boolean, nullable=False),
    Column("description", Text),
    Column(REVISION, Integer, nullable=False),
    Column("lotse_created_at", UtcDateTime(), nullable=False),
    Column("lotse_updated_at", UtcDateTime(), nullable=False),
    Column("updated_by", String(200), nullable=False),
    comment="How an organisation is told of referrals besides its inbox; not part of the published directory",
)

search_misses = Table(
    "lotse_search_miss",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("hour", UtcDateTime(), nullable=False, index=True, comment="when, to the hour"),
    Column("terms", Text, comment="the words, once searched often"),
    Column("terms_hash", String(64), index=True, comment="keyed hash of the words"),
    Column("filters", JSON, nullable=False),
    Column("region_key", String(12), comment="Gemeinde key (AGS) of the place searched near"),
)

search_index_state = Table(
    "lotse_search_index_state",
    metadata,
    Column("service_id", String(64), primary_key=True),
    Column("version", BigInteger, nullable=False, comment="counts the changes that affected the offer's document"),
    Column("indexed_version", BigInteger, nullable=False, comment="the version the search index holds"),
    comment="Scale mode: which offers the Elasticsearch index has yet to catch up with (version > indexed_version)",
)

DATABASE_SEARCH_TABLES = ("search_", "pg_search_")
"""Tables of the search index in the directory's database, not in ``metadata``: SQLite's (raw DDL in
migration 0002) and PostgreSQL's (migration 0017)."""


def is_declared(name: str | None, type_: str, *_: object) -> bool:
    """For Alembic's comparisons: leave the search index in the database alone."""
    return not (type_ == "table" and (name or "").startswith(DATABASE_SEARCH_TABLES))
