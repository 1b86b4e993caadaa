-- Issue 8 (compliance): the audit log also records every call fki receives and every delivery
-- it makes, attributed to an SF number and an operation with its outcome (`haendelse` `kald`
-- or `levering`). Keep in step with ../sqlite/0005_audit_kald.sql.
ALTER TABLE adgang_audit ADD COLUMN sf TEXT;
ALTER TABLE adgang_audit ADD COLUMN operation TEXT;
ALTER TABLE adgang_audit ADD COLUMN status BIGINT;
CREATE INDEX adgang_audit_sf_tid ON adgang_audit (sf, tid);
