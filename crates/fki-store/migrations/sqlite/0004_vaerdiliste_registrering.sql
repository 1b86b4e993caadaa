-- A Værdiliste as the SOAP interface (SF1460_B, VaerdilisteOperationer.xsd) shows it: its
-- current registrering's LivscyklusKode ('Opstaaet', 'Importeret', 'Rettet', 'Passiveret'),
-- BrugervendtNoegleTekst, NoteTekst and the time of the last change (µs). See
-- fki_store::besked::Vaerdiliste.
ALTER TABLE besked_vaerdiliste ADD COLUMN livscyklus TEXT NOT NULL DEFAULT 'Opstaaet';
ALTER TABLE besked_vaerdiliste ADD COLUMN brugervendtnoegle TEXT;
ALTER TABLE besked_vaerdiliste ADD COLUMN note TEXT;
ALTER TABLE besked_vaerdiliste ADD COLUMN aendret BIGINT NOT NULL DEFAULT 0;
UPDATE besked_vaerdiliste SET aendret = oprettet;
