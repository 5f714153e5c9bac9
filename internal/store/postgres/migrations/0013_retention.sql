-- Per-camera retention of recordings (as SQLite's 0012): 0 means the
-- server's default.
ALTER TABLE devices ADD COLUMN retain_age BIGINT NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN retain_bytes BIGINT NOT NULL DEFAULT 0;
