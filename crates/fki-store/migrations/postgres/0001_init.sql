-- fki storage schema (PostgreSQL). Keep in step with ../sqlite/0001_init.sql: same tables,
-- columns and index names. Instants are i64 microseconds; i64::MAX is "infinity".
-- Fact text uses COLLATE "C" so that ordering and prefix ranges are plain code-point order, as
-- in SQLite, whatever the database's default collation is.

CREATE TABLE objekt (
    uuid      TEXT    NOT NULL PRIMARY KEY,
    klasse    TEXT    NOT NULL,
    myndighed TEXT,
    faelles   BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX objekt_myndighed ON objekt (myndighed);

CREATE TABLE registrering (
    id          BIGSERIAL NOT NULL PRIMARY KEY,
    objekt_uuid TEXT      NOT NULL REFERENCES objekt (uuid),
    klasse      TEXT      NOT NULL,
    fra         BIGINT    NOT NULL,
    til         BIGINT    NOT NULL,
    livscyklus  TEXT      NOT NULL,
    brugerref   TEXT,
    note        TEXT,
    data        TEXT      NOT NULL
);
CREATE INDEX registrering_objekt_til ON registrering (objekt_uuid, til);
CREATE INDEX registrering_klasse_til ON registrering (klasse, til);

CREATE TABLE fakt (
    reg_id     BIGINT NOT NULL REFERENCES registrering (id),
    klasse     TEXT   NOT NULL,
    navn       TEXT   COLLATE "C" NOT NULL,
    vaerdi     TEXT   COLLATE "C" NOT NULL,
    objekttype TEXT,
    sti        TEXT   COLLATE "C",
    fra        BIGINT NOT NULL,
    til        BIGINT NOT NULL
);
-- Fresh statistics matter more than usual: searches join these tables with selectivities that
-- change as data arrives (the store also analyzes by itself; see pg.rs).
ALTER TABLE registrering SET (autovacuum_analyze_scale_factor = 0.05);
ALTER TABLE fakt SET (autovacuum_analyze_scale_factor = 0.05);

CREATE INDEX fakt_klasse_navn_vaerdi ON fakt (klasse, navn, vaerdi);
CREATE INDEX fakt_vaerdi ON fakt (vaerdi);
-- (reg_id) first, so it serves every per-registrering lookup; navn and vaerdi let the EXISTS
-- probes of a search seek straight to the matching fact.
CREATE INDEX fakt_reg ON fakt (reg_id, navn, vaerdi);
