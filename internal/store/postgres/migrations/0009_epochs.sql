-- Ownership epochs (invariant 8). epoch_started is when the device's current
-- ownership began (its claim, or its release or reset while unclaimed);
-- epoch_secret is 32 random bytes that seal keys for the device's data at
-- rest are derived from. Both are replaced, in the transaction that changes
-- the owner, on every claim, release and reset: the old secret is
-- overwritten, so what was sealed under it can no longer be opened.
--
-- The Postgres store was born with this migration: no device predates it
-- (SQLite's 0009 starts a new epoch for those). Postgres has no
-- cryptographic random bytes without pgcrypto, so rather than make a weak
-- secret this refuses to run over devices.
DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM devices) THEN
		RAISE EXCEPTION 'devices exist before ownership epochs; restore them into a fresh database';
	END IF;
END $$;
ALTER TABLE devices ADD COLUMN epoch_started BIGINT NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN epoch_secret BYTEA NOT NULL DEFAULT ''::BYTEA;
