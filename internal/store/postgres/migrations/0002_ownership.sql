-- Ownership, claiming and sharing. owner is a user id ('' while unclaimed);
-- claim_sha256 is the SHA-256 of the device's claim code ('' once claimed).
ALTER TABLE devices ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN claim_sha256 TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN enabled BOOLEAN NOT NULL DEFAULT TRUE;
CREATE INDEX devices_owner ON devices (owner);
CREATE UNIQUE INDEX devices_claim ON devices (claim_sha256) WHERE claim_sha256 != '';

ALTER TABLE users ADD COLUMN disabled BOOLEAN NOT NULL DEFAULT FALSE;

-- A share lets a user view a device until a time (0: until revoked).
-- Revoking deletes the row; deleting the device or the user drops it.
CREATE TABLE shares (
	device     TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	viewer     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	until      BIGINT NOT NULL DEFAULT 0,
	created_at BIGINT NOT NULL,
	PRIMARY KEY (device, viewer)
);
CREATE INDEX shares_viewer ON shares (viewer);
