-- Events (issue 15): what a camera (or its owner) marked — motion, sound,
-- person, ring — with its time span and score. epoch is the device's
-- epoch_started when it was marked: listings serve the current epoch only,
-- and its thumbnail (object thumb, sealed under that epoch's secret with
-- thumb_id in the associated data) opens under no later epoch's key.
-- end_at is 0 when the camera gave no end.
CREATE TABLE events (
	id       INTEGER PRIMARY KEY AUTOINCREMENT,
	device   TEXT NOT NULL,
	epoch    INTEGER NOT NULL,
	kind     TEXT NOT NULL,
	start    INTEGER NOT NULL,
	end_at   INTEGER NOT NULL,
	score    REAL NOT NULL,
	thumb_id INTEGER NOT NULL,
	thumb    TEXT NOT NULL
) STRICT;
CREATE INDEX events_span ON events (device, epoch, start);
-- Continuous recording per camera stream: the main stream's on by
-- default, the sub stream's off. A stream not recorded continuously is
-- recorded around events (pre- and post-roll).
ALTER TABLE devices ADD COLUMN record_main INTEGER NOT NULL DEFAULT 1;
ALTER TABLE devices ADD COLUMN record_sub INTEGER NOT NULL DEFAULT 0;
