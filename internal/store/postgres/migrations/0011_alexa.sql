-- Alexa event grants (as SQLite's 0011): an Alexa link's Login with Amazon
-- tokens for the event gateway, access and refresh sealed, region the skill
-- region its events go to. A grant ends with its link: the trigger deletes
-- it when the link is revoked, the foreign key when it is deleted.
CREATE TABLE alexa_grants (
	link       TEXT PRIMARY KEY REFERENCES oauth_links (id) ON DELETE CASCADE,
	access     TEXT NOT NULL,
	refresh    TEXT NOT NULL,
	expires_at BIGINT NOT NULL,
	region     TEXT NOT NULL DEFAULT '',
	updated_at BIGINT NOT NULL
);

CREATE FUNCTION alexa_grants_end_with_link() RETURNS trigger AS $$
BEGIN
	DELETE FROM alexa_grants WHERE link = NEW.id;
	RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER alexa_grants_end_with_link AFTER UPDATE OF revoked_at ON oauth_links
FOR EACH ROW WHEN (NEW.revoked_at <> 0)
EXECUTE FUNCTION alexa_grants_end_with_link();
