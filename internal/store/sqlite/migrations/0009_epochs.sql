-- Ownership epochs (invariant 8). epoch_started is when the device's current
-- ownership began (its claim, or its release or reset while unclaimed);
-- epoch_secret is 32 random bytes that seal keys for the device's data at
-- rest are derived from. Both are replaced, in the transaction that changes
-- the owner, on every claim, release and reset: the old secret is
-- overwritten, so what was sealed under it can no longer be opened.
--
-- Devices that exist when this runs start an epoch now: who owned them
-- before is not known, so nothing before the upgrade is shown to anyone
-- (their access history included) and their old sealed stills stay shut.
ALTER TABLE devices ADD COLUMN epoch_started INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN epoch_secret BLOB NOT NULL DEFAULT x'';
UPDATE devices SET epoch_started = CAST(unixepoch('subsec') * 1e9 AS INTEGER), epoch_secret = randomblob(32);
