-- Alexa links' health. alexa_grants.relink_at is when the event gateway
-- refused the link's event token even after a refresh (0: it has not):
-- the link stays, its reports stop, and the person is asked to relink; a
-- new grant (AcceptGrant) clears it. alexa_seen.seen_at is the last time
-- the link was used (a directive with its token, an event accepted): a link
-- silent for alexa_silence ends, since Amazon says nothing when a person
-- disables the skill.
ALTER TABLE alexa_grants ADD COLUMN relink_at INTEGER NOT NULL DEFAULT 0;

CREATE TABLE alexa_seen (
	link    TEXT PRIMARY KEY REFERENCES oauth_links (id) ON DELETE CASCADE,
	seen_at INTEGER NOT NULL
) STRICT;
