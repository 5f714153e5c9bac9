-- Access history: one row per viewing session, written when it starts; its
-- end and byte count are filled in once when it ends (ended 0: ongoing or
-- cut short by a crash). Rows are never deleted or rewritten otherwise.
CREATE TABLE access_log (
	id       INTEGER PRIMARY KEY AUTOINCREMENT,
	viewer   TEXT NOT NULL,
	device   TEXT NOT NULL,
	output   TEXT NOT NULL,
	audience TEXT NOT NULL,
	remote   TEXT NOT NULL,
	started  INTEGER NOT NULL,
	ended    INTEGER NOT NULL DEFAULT 0,
	bytes    INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX access_log_device ON access_log (device, started);
