-- Retention rules (issue 15): retain_event_age (nanoseconds, 0: the
-- server's default) keeps footage an event touches longer than retain_age.
-- A lowered rule waits a grace period: retain_prior_* is the rule in force
-- before the last change (defaults resolved), retain_changed_at when it
-- changed (0: never).
ALTER TABLE devices ADD COLUMN retain_event_age INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN retain_prior_age INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN retain_prior_event_age INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN retain_prior_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN retain_changed_at INTEGER NOT NULL DEFAULT 0;

-- A household's quota of footage (plaintext bytes) over all its cameras,
-- the oldest unpinned deleted first; 0 is the server's default.
ALTER TABLE users ADD COLUMN quota_bytes INTEGER NOT NULL DEFAULT 0;

-- Pins keep a span of a camera's footage from retention. epoch is the
-- device's epoch_started when the pin was made: a pin of an earlier epoch
-- keeps nothing. event is the pinned event's id (0: a span). A pin ends
-- with its pinner's access (retention drops it) and with its device or
-- pinner.
CREATE TABLE pins (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	device     TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	epoch      INTEGER NOT NULL,
	pinner     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	start      INTEGER NOT NULL,
	end_at     INTEGER NOT NULL,
	event      INTEGER NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX pins_device ON pins (device, start);
CREATE INDEX pins_pinner ON pins (pinner);
