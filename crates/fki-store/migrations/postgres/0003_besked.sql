-- Beskedfordeler (postgres): dueslag, abonnementer, værdilister, accepted messages and their
-- leveringer. Keep in step with ../sqlite/0003_besked.sql: same tables, columns and index
-- names. Instants are i64 microseconds. See fki_store::besked.

-- One row: store-wide change counters. `abonnement` moves with every change of a dueslag or an
-- abonnement, `vaerdiliste` with every change of a Værdiliste (its new value becomes the list's
-- version).
CREATE TABLE besked_version (
    id          BIGINT NOT NULL PRIMARY KEY CHECK (id = 1),
    abonnement  BIGINT NOT NULL,
    vaerdiliste BIGINT NOT NULL
);
INSERT INTO besked_version (id, abonnement, vaerdiliste) VALUES (1, 0, 0);

-- levering: 'push' (callback_url set) or 'pull'. naeste_loebenr: the loebenr the next levering
-- in this dueslag gets (moved by UPDATE … RETURNING, so concurrent writers queue on the row).
CREATE TABLE besked_dueslag (
    uuid           TEXT    NOT NULL PRIMARY KEY,
    navn           TEXT    NOT NULL,
    ejer           TEXT    NOT NULL,
    myndighed      TEXT    NOT NULL,
    aktiv          BOOLEAN NOT NULL,
    levering       TEXT    NOT NULL,
    callback_url   TEXT,
    maks_forsoeg   BIGINT  NOT NULL,
    oprettet       BIGINT  NOT NULL,
    naeste_loebenr BIGINT  NOT NULL DEFAULT 1
);
CREATE INDEX besked_dueslag_ejer ON besked_dueslag (ejer, navn);

-- filter: the filter's JSON form, opaque to the store.
CREATE TABLE besked_abonnement (
    uuid     TEXT    NOT NULL PRIMARY KEY,
    dueslag  TEXT    NOT NULL REFERENCES besked_dueslag (uuid),
    filter   TEXT    NOT NULL,
    aktiv    BOOLEAN NOT NULL,
    oprettet BIGINT  NOT NULL,
    aendret  BIGINT  NOT NULL
);
CREATE INDEX besked_abonnement_dueslag ON besked_abonnement (dueslag, oprettet);

CREATE TABLE besked_vaerdiliste (
    uuid     TEXT   NOT NULL PRIMARY KEY,
    navn     TEXT   NOT NULL,
    ejer     TEXT   NOT NULL,
    oprettet BIGINT NOT NULL,
    version  BIGINT NOT NULL
);
CREATE INDEX besked_vaerdiliste_ejer ON besked_vaerdiliste (ejer, navn);

-- COLLATE "C": values sort in code-point order, as in SQLite.
CREATE TABLE besked_vaerdi (
    liste  TEXT NOT NULL REFERENCES besked_vaerdiliste (uuid),
    vaerdi TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (liste, vaerdi)
);

-- An accepted Haendelsesbesked, once however many dueslag it went to.
CREATE TABLE besked (
    seq       BIGSERIAL NOT NULL PRIMARY KEY,
    besked_id TEXT   NOT NULL,
    afsender  TEXT   NOT NULL,
    myndighed TEXT   NOT NULL,
    modtaget  BIGINT NOT NULL,
    xml       TEXT   NOT NULL
);
CREATE UNIQUE INDEX besked_besked_id ON besked (besked_id);
CREATE INDEX besked_modtaget ON besked (modtaget);

-- A message in one dueslag. status: 'klar', 'kvitteret' or 'fejlkoe'.
CREATE TABLE besked_levering (
    dueslag        TEXT   NOT NULL REFERENCES besked_dueslag (uuid),
    loebenr        BIGINT NOT NULL,
    besked_seq     BIGINT NOT NULL REFERENCES besked (seq),
    status         TEXT   NOT NULL,
    forsoeg        BIGINT NOT NULL,
    naeste_forsoeg BIGINT NOT NULL,
    fordelt        BIGINT NOT NULL,
    leveret        BIGINT,
    sidste_fejl    TEXT,
    PRIMARY KEY (dueslag, loebenr)
);
-- The delivery queue of a dueslag (klar, fejlkø) and its counts.
CREATE INDEX besked_levering_koe ON besked_levering (dueslag, status, loebenr);
-- "Does a levering still refer to this message?" (retention, and the foreign key's checks).
CREATE INDEX besked_levering_besked ON besked_levering (besked_seq);
-- Retention of acknowledged leveringer.
CREATE INDEX besked_levering_leveret ON besked_levering (status, leveret);
