-- Events and continuous-recording flags (as SQLite's 0014; see there).
CREATE TABLE events (
	id       BIGSERIAL PRIMARY KEY,
	device   TEXT NOT NULL,
	epoch    BIGINT NOT NULL,
	kind     TEXT NOT NULL,
	start    BIGINT NOT NULL,
	end_at   BIGINT NOT NULL,
	score    DOUBLE PRECISION NOT NULL,
	thumb_id BIGINT NOT NULL,
	thumb    TEXT NOT NULL
);
CREATE INDEX events_span ON events (device, epoch, start);
ALTER TABLE devices ADD COLUMN record_main BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE devices ADD COLUMN record_sub BOOLEAN NOT NULL DEFAULT FALSE;
