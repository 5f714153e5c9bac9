-- API tokens: random secrets shown once, kept as digest hashes so RTSP
-- players can use them as Digest passwords (user name + token).
CREATE TABLE api_tokens (
	id          TEXT PRIMARY KEY,
	user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	name        TEXT NOT NULL,
	ha1_md5     TEXT NOT NULL,
	ha1_sha256  TEXT NOT NULL,
	pass_sha256 TEXT NOT NULL,
	created_at  BIGINT NOT NULL,
	expires_at  BIGINT NOT NULL
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);
