-- Devices and users with their credential hashes. Times are Unix nanoseconds, UTC.
CREATE TABLE devices (
	id          TEXT PRIMARY KEY,
	name        TEXT NOT NULL,
	source      TEXT NOT NULL DEFAULT '',
	cred_user   TEXT NOT NULL,
	ha1_md5     TEXT NOT NULL,
	ha1_sha256  TEXT NOT NULL,
	pass_sha256 TEXT NOT NULL,
	created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE users (
	id          TEXT PRIMARY KEY,
	name        TEXT NOT NULL UNIQUE,
	cred_user   TEXT NOT NULL,
	ha1_md5     TEXT NOT NULL,
	ha1_sha256  TEXT NOT NULL,
	pass_sha256 TEXT NOT NULL,
	admin       INTEGER NOT NULL DEFAULT 0,
	created_at  INTEGER NOT NULL
) STRICT;
