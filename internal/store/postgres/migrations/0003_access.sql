-- Access history: one row per viewing session, written when it starts; its
-- end and byte count are filled in once when it ends (ended 0: ongoing or
-- cut short by a crash). Rows are never deleted or rewritten otherwise.
CREATE TABLE access_log (
	id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	viewer   TEXT NOT NULL,
	device   TEXT NOT NULL,
	output   TEXT NOT NULL,
	audience TEXT NOT NULL,
	remote   TEXT NOT NULL,
	started  BIGINT NOT NULL,
	ended    BIGINT NOT NULL DEFAULT 0,
	bytes    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX access_log_device ON access_log (device, started);
