-- Alexa event grants: an Alexa link's Login with Amazon tokens for the event
-- gateway, from AcceptGrant. access and refresh are sealed (sealed:v1:...,
-- labelled by column and link); region is the skill region its events go to
-- (NA, EU or FE). A grant ends with its link: the trigger
-- deletes it when the link is revoked, the foreign key when it is deleted.
CREATE TABLE alexa_grants (
	link       TEXT PRIMARY KEY REFERENCES oauth_links (id) ON DELETE CASCADE,
	access     TEXT NOT NULL,
	refresh    TEXT NOT NULL,
	expires_at INTEGER NOT NULL,
	region     TEXT NOT NULL DEFAULT '',
	updated_at INTEGER NOT NULL
) STRICT;

CREATE TRIGGER alexa_grants_end_with_link AFTER UPDATE OF revoked_at ON oauth_links
WHEN NEW.revoked_at != 0
BEGIN
	DELETE FROM alexa_grants WHERE link = NEW.id;
END;
