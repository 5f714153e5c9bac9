-- Account linking (OAuth 2.0). A link is one assistant user's access to a
-- Vigil user's chosen cameras; linked_at is 0 until its authorization code
-- is exchanged, revoked_at 0 while it is live. Revoked links are kept (their
-- tokens are not), so the account's history shows what was linked.
CREATE TABLE oauth_links (
	id            TEXT PRIMARY KEY,
	user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	client        TEXT NOT NULL,
	agent_user_id TEXT NOT NULL UNIQUE,
	created_at    BIGINT NOT NULL,
	linked_at     BIGINT NOT NULL DEFAULT 0,
	revoked_at    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX oauth_links_user ON oauth_links (user_id);

-- The cameras a link exposes; a deleted device leaves every link.
CREATE TABLE oauth_link_devices (
	link   TEXT NOT NULL REFERENCES oauth_links (id) ON DELETE CASCADE,
	device TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	PRIMARY KEY (link, device)
);
CREATE INDEX oauth_link_devices_device ON oauth_link_devices (device);

-- fosite's stored requests, one per authorization code, PKCE challenge,
-- access token and refresh token, keyed by the SHA-256 of the token's HMAC
-- signature (never the token itself). request is JSON without any token,
-- code, verifier or secret. active is false for a spent code or a refresh
-- token retired by rotation; expires_at 0 means never.
CREATE TABLE oauth_tokens (
	kind             TEXT NOT NULL,
	signature_sha256 TEXT NOT NULL,
	link             TEXT NOT NULL REFERENCES oauth_links (id) ON DELETE CASCADE,
	active           BOOLEAN NOT NULL DEFAULT TRUE,
	created_at       BIGINT NOT NULL,
	expires_at       BIGINT NOT NULL,
	request          BYTEA NOT NULL,
	PRIMARY KEY (kind, signature_sha256)
);
CREATE INDEX oauth_tokens_link ON oauth_tokens (link, kind);
CREATE INDEX oauth_tokens_expires ON oauth_tokens (expires_at) WHERE expires_at != 0;
