-- Retention rules, household quotas and pins (as SQLite's 0015; see there).
ALTER TABLE devices ADD COLUMN retain_event_age BIGINT NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN retain_prior_age BIGINT NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN retain_prior_event_age BIGINT NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN retain_prior_bytes BIGINT NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN retain_changed_at BIGINT NOT NULL DEFAULT 0;

ALTER TABLE users ADD COLUMN quota_bytes BIGINT NOT NULL DEFAULT 0;

CREATE TABLE pins (
	id         BIGSERIAL PRIMARY KEY,
	device     TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	epoch      BIGINT NOT NULL,
	pinner     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	start      BIGINT NOT NULL,
	end_at     BIGINT NOT NULL,
	event      BIGINT NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE INDEX pins_device ON pins (device, start);
CREATE INDEX pins_pinner ON pins (pinner);
