-- API tokens carry a scope (view or manage); tokens made before scopes
-- existed keep the power they had.
ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'manage';

-- Revocations: every change that ends someone's right to view appends a row
-- here in the same transaction (the triggers below), so a running server
-- ends live viewing even when the change came from another process (the
-- vigil admin commands). Rows are pruned once they are old.
CREATE TABLE revocations (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	user       TEXT NOT NULL DEFAULT '', -- '' with a device: everyone
	device     TEXT NOT NULL DEFAULT '', -- '' with a user: every device
	created_at INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1e9 AS INTEGER))
) STRICT;

CREATE TRIGGER revoke_device_deleted AFTER DELETE ON devices
BEGIN INSERT INTO revocations (device) VALUES (old.id); END;

CREATE TRIGGER revoke_device_changed AFTER UPDATE OF owner, enabled, ha1_md5 ON devices
WHEN old.owner != new.owner OR (old.enabled = 1 AND new.enabled = 0)
BEGIN INSERT INTO revocations (device) VALUES (old.id); END;

CREATE TRIGGER revoke_share_deleted AFTER DELETE ON shares
BEGIN INSERT INTO revocations (user, device) VALUES (old.viewer, old.device); END;

CREATE TRIGGER revoke_share_shortened AFTER UPDATE OF until ON shares
WHEN new.until != 0 AND (old.until = 0 OR new.until < old.until)
BEGIN INSERT INTO revocations (user, device) VALUES (old.viewer, old.device); END;

CREATE TRIGGER revoke_user_changed AFTER UPDATE OF disabled, pass_sha256, password_argon2 ON users
WHEN (old.disabled = 0 AND new.disabled = 1) OR old.pass_sha256 != new.pass_sha256
	OR old.password_argon2 != new.password_argon2
BEGIN INSERT INTO revocations (user) VALUES (old.id); END;

CREATE TRIGGER revoke_user_deleted AFTER DELETE ON users
BEGIN INSERT INTO revocations (user) VALUES (old.id); END;

CREATE TRIGGER revoke_api_token_deleted AFTER DELETE ON api_tokens
BEGIN INSERT INTO revocations (user) VALUES (old.user); END;

