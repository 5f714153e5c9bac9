-- Alexa links' health (as SQLite's 0012): alexa_grants.relink_at is when
-- the event gateway refused the link's event token even after a refresh
-- (0: it has not); alexa_seen.seen_at is the last time the link was used.
ALTER TABLE alexa_grants ADD COLUMN relink_at BIGINT NOT NULL DEFAULT 0;

CREATE TABLE alexa_seen (
	link    TEXT PRIMARY KEY REFERENCES oauth_links (id) ON DELETE CASCADE,
	seen_at BIGINT NOT NULL
);
