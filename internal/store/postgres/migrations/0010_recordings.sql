-- Recordings (as SQLite's 0010; see there for what the columns hold): one
-- row per recorded segment of a camera stream, written when its sealed
-- object is stored whole. This came after 0011 on Postgres: the migrator
-- applies every migration a database lacks, not only those past its newest.
CREATE TABLE recordings (
	id        BIGSERIAL PRIMARY KEY,
	device    TEXT NOT NULL,
	stream    TEXT NOT NULL,
	epoch     BIGINT NOT NULL,
	seg_id    BIGINT NOT NULL,
	start     BIGINT NOT NULL,
	duration  BIGINT NOT NULL,
	size      BIGINT NOT NULL,
	object    TEXT NOT NULL UNIQUE,
	fragments BYTEA NOT NULL
);
CREATE INDEX recordings_span ON recordings (device, epoch, stream, start);
