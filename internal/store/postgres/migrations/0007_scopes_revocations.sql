-- API tokens carry a scope (view or manage); tokens made before scopes
-- existed keep the power they had.
ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'manage';

-- Revocations: every change that ends someone's right to view appends a row
-- here in the same transaction (the triggers below), so every node ends
-- live viewing whichever node or process made the change. A notification
-- on vigil_revocations, sent at commit, wakes the readers; it is only a
-- hint (a reader that was reconnecting misses it), the table is the truth.
-- Rows are pruned once they are old.
CREATE TABLE revocations (
	id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	user_id    TEXT NOT NULL DEFAULT '', -- '' with a device: everyone
	device     TEXT NOT NULL DEFAULT '', -- '' with a user: every device
	created_at BIGINT NOT NULL DEFAULT (extract(epoch FROM clock_timestamp()) * 1e9)::BIGINT
);

-- Readers follow the log by id ("after the last one I saw"), so ids must
-- become visible in order. A sequence alone hands them out in one order
-- and commits them in another: a reader could see 6, move past it, and
-- never see 5 committed a moment later. So a statement that may revoke
-- first takes this table's self-exclusive lock, before it locks any row
-- (so it cannot deadlock with another revoking statement), and holds it
-- to commit: revoking transactions take turns, as SQLite's writers do.
CREATE FUNCTION revocations_turn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	LOCK TABLE revocations IN SHARE ROW EXCLUSIVE MODE;
	RETURN NULL;
END $$;

CREATE FUNCTION log_revocation(revoked_user TEXT, revoked_device TEXT) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO revocations (user_id, device) VALUES (revoked_user, revoked_device);
	PERFORM pg_notify('vigil_revocations', '');
END $$;

CREATE FUNCTION revoke_device() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM log_revocation('', OLD.id); RETURN NULL; END $$;

CREATE FUNCTION revoke_share() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM log_revocation(OLD.viewer, OLD.device); RETURN NULL; END $$;

CREATE FUNCTION revoke_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM log_revocation(OLD.id, ''); RETURN NULL; END $$;

CREATE FUNCTION revoke_token_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM log_revocation(OLD.user_id, ''); RETURN NULL; END $$;

CREATE TRIGGER devices_turn BEFORE DELETE OR UPDATE OF owner, enabled, ha1_md5 ON devices
FOR EACH STATEMENT EXECUTE FUNCTION revocations_turn();
CREATE TRIGGER shares_turn BEFORE DELETE OR UPDATE OF until ON shares
FOR EACH STATEMENT EXECUTE FUNCTION revocations_turn();
CREATE TRIGGER users_turn BEFORE DELETE OR UPDATE OF disabled, pass_sha256, password_argon2 ON users
FOR EACH STATEMENT EXECUTE FUNCTION revocations_turn();
CREATE TRIGGER api_tokens_turn BEFORE DELETE ON api_tokens
FOR EACH STATEMENT EXECUTE FUNCTION revocations_turn();

CREATE TRIGGER revoke_device_deleted AFTER DELETE ON devices
FOR EACH ROW EXECUTE FUNCTION revoke_device();

CREATE TRIGGER revoke_device_changed AFTER UPDATE OF owner, enabled, ha1_md5 ON devices
FOR EACH ROW WHEN (OLD.owner != NEW.owner OR (OLD.enabled AND NOT NEW.enabled))
EXECUTE FUNCTION revoke_device();

CREATE TRIGGER revoke_share_deleted AFTER DELETE ON shares
FOR EACH ROW EXECUTE FUNCTION revoke_share();

CREATE TRIGGER revoke_share_shortened AFTER UPDATE OF until ON shares
FOR EACH ROW WHEN (NEW.until != 0 AND (OLD.until = 0 OR NEW.until < OLD.until))
EXECUTE FUNCTION revoke_share();

CREATE TRIGGER revoke_user_changed AFTER UPDATE OF disabled, pass_sha256, password_argon2 ON users
FOR EACH ROW WHEN ((NOT OLD.disabled AND NEW.disabled) OR OLD.pass_sha256 != NEW.pass_sha256
	OR OLD.password_argon2 != NEW.password_argon2)
EXECUTE FUNCTION revoke_user();

CREATE TRIGGER revoke_user_deleted AFTER DELETE ON users
FOR EACH ROW EXECUTE FUNCTION revoke_user();

CREATE TRIGGER revoke_api_token_deleted AFTER DELETE ON api_tokens
FOR EACH ROW EXECUTE FUNCTION revoke_token_user();
