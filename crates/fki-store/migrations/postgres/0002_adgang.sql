-- Adgangsstyring for systemer (postgres): the registries of IT systems, services and service
-- agreements, and the audit log. Keep in step with ../sqlite/0002_adgang.sql: same tables,
-- columns and index names. Instants are i64 microseconds. The known services are seeded when a
-- store opens (fki_store::adgang::KENDTE_SERVICES), not here.

CREATE TABLE adgang_system (
    uuid              TEXT   NOT NULL PRIMARY KEY,
    navn              TEXT   NOT NULL,
    cvr               TEXT   NOT NULL,
    rolle             TEXT   NOT NULL,
    certifikat_sha256 TEXT   NOT NULL,
    certifikat_der    BYTEA NOT NULL,
    subject           TEXT   NOT NULL,
    oprettet          BIGINT NOT NULL
);
CREATE UNIQUE INDEX adgang_system_certifikat ON adgang_system (certifikat_sha256);
CREATE INDEX adgang_system_navn ON adgang_system (navn);

CREATE TABLE adgang_service (
    uuid      TEXT NOT NULL PRIMARY KEY,
    entity_id TEXT NOT NULL,
    navn      TEXT NOT NULL,
    sf        TEXT NOT NULL
);
CREATE UNIQUE INDEX adgang_service_entity_id ON adgang_service (entity_id);

-- roller: JSON array of strings; dataafgraensninger: JSON array of {"navn", "vaerdi"}.
CREATE TABLE adgang_aftale (
    uuid               TEXT   NOT NULL PRIMARY KEY,
    system_uuid        TEXT   NOT NULL REFERENCES adgang_system (uuid),
    service_uuid       TEXT   NOT NULL REFERENCES adgang_service (uuid),
    myndighed          TEXT   NOT NULL,
    roller             TEXT   NOT NULL,
    dataafgraensninger TEXT   NOT NULL,
    status             TEXT   NOT NULL,
    oprettet           BIGINT NOT NULL,
    aendret            BIGINT NOT NULL
);
-- The STS's question: "an active agreement for this system, service and CVR?"
CREATE INDEX adgang_aftale_system ON adgang_aftale (system_uuid, service_uuid, myndighed);
CREATE INDEX adgang_aftale_myndighed ON adgang_aftale (myndighed);

CREATE TABLE adgang_audit (
    id                BIGSERIAL NOT NULL PRIMARY KEY,
    tid               BIGINT NOT NULL,
    haendelse         TEXT   NOT NULL,
    system_uuid       TEXT,
    certifikat_sha256 TEXT,
    service           TEXT,
    myndighed         TEXT,
    resultat          TEXT   NOT NULL,
    aarsag            TEXT,
    reference         TEXT
);
CREATE INDEX adgang_audit_tid ON adgang_audit (tid);
CREATE INDEX adgang_audit_system_tid ON adgang_audit (system_uuid, tid);
CREATE INDEX adgang_audit_myndighed_tid ON adgang_audit (myndighed, tid);
