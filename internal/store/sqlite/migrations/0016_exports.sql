-- Exports (issue 15): a release that keeps its household's footage for a
-- while. The release moves the ended epoch's secret here, in its own
-- transaction, instead of destroying it: epoch_secret is the only copy
-- left, read to open the export's recordings (epoch is their epoch) for
-- household alone, captured before released_at (the release, which is
-- also the next epoch's start). At deadline retention deletes the row,
-- destroying the secret, then the footage. name is the camera's name at
-- the release. The row goes with its device or its household.
CREATE TABLE exports (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	device       TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	epoch        INTEGER NOT NULL,
	household    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	name         TEXT NOT NULL,
	released_at  INTEGER NOT NULL,
	deadline     INTEGER NOT NULL,
	epoch_secret BLOB NOT NULL
) STRICT;
CREATE INDEX exports_device ON exports (device, released_at);
CREATE INDEX exports_household ON exports (household, released_at);
