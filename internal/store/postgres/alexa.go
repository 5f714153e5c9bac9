package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"vigil/internal/config"
	"vigil/internal/store"
	"vigil/internal/store/sqlrow"
)

// PutAlexaGrant stores a link's event tokens, sealed, replacing any it
// had; store.ErrNotFound when the link is not live.
func (s *Store) PutAlexaGrant(ctx context.Context, g store.AlexaGrant) error {
	access, err := store.SealText(s.secrets, store.AlexaGrantLabel("access", g.Link), g.Access.Reveal())
	if err != nil {
		return fmt.Errorf("alexa grant of %s: %w", g.Link, err)
	}
	refresh, err := store.SealText(s.secrets, store.AlexaGrantLabel("refresh", g.Link), g.Refresh.Reveal())
	if err != nil {
		return fmt.Errorf("alexa grant of %s: %w", g.Link, err)
	}
	tag, err := s.q(ctx).Exec(ctx, `INSERT INTO alexa_grants (link, access, refresh, expires_at, region, relink_at, updated_at)
		SELECT id, $1, $2, $3, $4, $5, $6 FROM oauth_links WHERE id = $7 AND revoked_at = 0
		ON CONFLICT (link) DO UPDATE SET access = excluded.access, refresh = excluded.refresh,
			expires_at = excluded.expires_at, region = excluded.region, relink_at = excluded.relink_at,
			updated_at = excluded.updated_at`,
		access, refresh, g.Expires.UnixNano(), g.Region, sqlrow.OptionalNanos(g.Relink), time.Now().UnixNano(), g.Link)
	if err != nil {
		return fmt.Errorf("alexa grant of %s: %w", g.Link, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("alexa grant of %s: no live link: %w", g.Link, store.ErrNotFound)
	}
	return nil
}

// AlexaGrant returns a link's event tokens; store.ErrNotFound when it has
// none (never granted, or the link ended).
func (s *Store) AlexaGrant(ctx context.Context, link string) (store.AlexaGrant, error) {
	var access, refresh, region string
	var expires, relink int64
	err := s.q(ctx).QueryRow(ctx, `SELECT access, refresh, expires_at, region, relink_at FROM alexa_grants WHERE link = $1`, link).
		Scan(&access, &refresh, &expires, &region, &relink)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.AlexaGrant{}, fmt.Errorf("alexa grant of %s: %w", link, store.ErrNotFound)
	}
	if err != nil {
		return store.AlexaGrant{}, fmt.Errorf("alexa grant of %s: %w", link, err)
	}
	a, err := store.OpenText(s.secrets, store.AlexaGrantLabel("access", link), access)
	if err != nil {
		return store.AlexaGrant{}, err
	}
	r, err := store.OpenText(s.secrets, store.AlexaGrantLabel("refresh", link), refresh)
	if err != nil {
		return store.AlexaGrant{}, err
	}
	return store.AlexaGrant{Link: link, Access: config.Secret(a), Refresh: config.Secret(r),
		Expires: time.Unix(0, expires), Region: region, Relink: sqlrow.OptionalTime(relink)}, nil
}

// SeeAlexaLink notes that a live link was used at at (never moving back);
// store.ErrNotFound when the link is not live.
func (s *Store) SeeAlexaLink(ctx context.Context, link string, at time.Time) error {
	tag, err := s.q(ctx).Exec(ctx, `INSERT INTO alexa_seen (link, seen_at)
		SELECT id, $1 FROM oauth_links WHERE id = $2 AND revoked_at = 0
		ON CONFLICT (link) DO UPDATE SET seen_at = GREATEST(alexa_seen.seen_at, excluded.seen_at)`, at.UnixNano(), link)
	if err != nil {
		return fmt.Errorf("alexa link %s seen: %w", link, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("alexa link %s seen: no live link: %w", link, store.ErrNotFound)
	}
	return nil
}

// AlexaLinkSeen returns when the link was last used; the zero time when
// that was never noted.
func (s *Store) AlexaLinkSeen(ctx context.Context, link string) (time.Time, error) {
	var at int64
	err := s.q(ctx).QueryRow(ctx, `SELECT seen_at FROM alexa_seen WHERE link = $1`, link).Scan(&at)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("alexa link %s seen: %w", link, err)
	}
	return sqlrow.FromNanos(at), nil
}
