-- Passwords people choose (argon2id PHC strings) and sign-in sessions. A
-- session is stored by the SHA-256 of its cookie, never the cookie itself.
ALTER TABLE users ADD COLUMN password_argon2 TEXT NOT NULL DEFAULT '';

CREATE TABLE sessions (
	id_sha256  TEXT PRIMARY KEY,
	user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	csrf       TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
