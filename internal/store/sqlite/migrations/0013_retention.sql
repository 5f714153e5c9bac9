-- Per-camera retention of recordings (issue 15): retain_age (nanoseconds)
-- and retain_bytes bound how long and how much of a camera's footage is
-- kept, oldest deleted first; 0 means the server's default
-- (record_retain, record_retain_bytes).
ALTER TABLE devices ADD COLUMN retain_age INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN retain_bytes INTEGER NOT NULL DEFAULT 0;
