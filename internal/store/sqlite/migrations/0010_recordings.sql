-- Recordings (issue 15): one row per recorded segment of a camera stream,
-- written when the segment's sealed object is stored whole. epoch is the
-- device's epoch_started when it was recorded: its object is sealed under
-- that epoch's secret, so once the device changes hands the row names an
-- object nobody can open, and listings for a later epoch never return it.
-- seg_id and start are part of the object's key derivation. fragments holds,
-- per fragment (one per GOP), its byte offset, its time from start in
-- nanoseconds and whether it starts with a keyframe: 17 bytes each (two
-- big-endian int64 and a flag byte).
CREATE TABLE recordings (
	id        INTEGER PRIMARY KEY AUTOINCREMENT,
	device    TEXT NOT NULL,
	stream    TEXT NOT NULL,
	epoch     INTEGER NOT NULL,
	seg_id    INTEGER NOT NULL,
	start     INTEGER NOT NULL,
	duration  INTEGER NOT NULL,
	size      INTEGER NOT NULL,
	object    TEXT NOT NULL UNIQUE,
	fragments BLOB NOT NULL
) STRICT;
CREATE INDEX recordings_span ON recordings (device, epoch, stream, start);
