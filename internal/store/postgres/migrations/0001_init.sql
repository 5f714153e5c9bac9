-- Devices and users with their credential hashes. Times are Unix
-- nanoseconds, UTC (as in the SQLite store: timestamptz keeps only
-- microseconds). Postgres reserves "user", so user columns are user_id.
CREATE TABLE devices (
	id          TEXT PRIMARY KEY,
	name        TEXT NOT NULL,
	source      TEXT NOT NULL DEFAULT '',
	cred_user   TEXT NOT NULL,
	ha1_md5     TEXT NOT NULL,
	ha1_sha256  TEXT NOT NULL,
	pass_sha256 TEXT NOT NULL,
	created_at  BIGINT NOT NULL
);

CREATE TABLE users (
	id          TEXT PRIMARY KEY,
	name        TEXT NOT NULL UNIQUE,
	cred_user   TEXT NOT NULL,
	ha1_md5     TEXT NOT NULL,
	ha1_sha256  TEXT NOT NULL,
	pass_sha256 TEXT NOT NULL,
	admin       BOOLEAN NOT NULL DEFAULT FALSE,
	created_at  BIGINT NOT NULL
);
