-- The user an audit event concerns (whose account, key or session), so that
-- the audit log can be read by subject as well as by actor.

-- +goose Up
ALTER TABLE audit ADD COLUMN subject_id BIGINT NOT NULL DEFAULT 0;
CREATE INDEX audit_subject_id ON audit (subject_id, id);

-- +goose Down
DROP INDEX audit_subject_id;
ALTER TABLE audit DROP COLUMN subject_id;
