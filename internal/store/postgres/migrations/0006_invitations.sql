-- Invitations: single-use sign-up codes an admin hands out, stored hashed.
CREATE TABLE invitations (
	code_sha256 TEXT PRIMARY KEY,
	created_by  TEXT NOT NULL,
	created_at  BIGINT NOT NULL,
	expires_at  BIGINT NOT NULL
);
