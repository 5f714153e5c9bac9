package postgres

import (
	"context"
	"errors"
	"fmt"
	"github.com/jackc/pgx/v5"
	"time"

	"vigil/internal/access"
	"vigil/internal/oauth"
	"vigil/internal/store"
	"vigil/internal/store/sqlrow"
)

var _ oauth.Store = (*Store)(nil)

// CreateLink stores a new link with its devices.
func (s *Store) CreateLink(ctx context.Context, l oauth.Link) error {
	err := s.inTx(ctx, func(q querier) error {
		_, err := q.Exec(ctx, `INSERT INTO oauth_links (id, user_id, client, agent_user_id, created_at) VALUES ($1, $2, $3, $4, $5)`,
			l.ID, string(l.User), l.Client, l.AgentUserID, sqlrow.Nanos(l.Created))
		if err != nil {
			return err
		}
		return putLinkDevices(ctx, q, l.ID, l.Devices)
	})
	if isForeignKey(err) {
		return fmt.Errorf("create link %s: user or device: %w", l.ID, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("create link %s: %w", l.ID, err)
	}
	return nil
}

// SetLinkDevices replaces the cameras a live link exposes; a revoked or
// unknown link is an error wrapping store.ErrNotFound.
func (s *Store) SetLinkDevices(ctx context.Context, id string, devices []access.DeviceID) error {
	err := s.inTx(ctx, func(q querier) error {
		var live int
		if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM oauth_links WHERE id = $1 AND revoked_at = 0`, id).Scan(&live); err != nil {
			return err
		}
		if live == 0 {
			return store.ErrNotFound
		}
		if _, err := q.Exec(ctx, `DELETE FROM oauth_link_devices WHERE link = $1`, id); err != nil {
			return err
		}
		return putLinkDevices(ctx, q, id, devices)
	})
	if isForeignKey(err) {
		return fmt.Errorf("set devices of link %s: device: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("set devices of link %s: %w", id, err)
	}
	return nil
}

func putLinkDevices(ctx context.Context, q querier, link string, devices []access.DeviceID) error {
	for _, d := range devices {
		if _, err := q.Exec(ctx, `INSERT INTO oauth_link_devices (link, device) VALUES ($1, $2) ON CONFLICT DO NOTHING`, link, string(d)); err != nil {
			return err
		}
	}
	return nil
}

const linkColumns = `l.id, l.user_id, u.name, l.client, l.agent_user_id, l.created_at, l.linked_at, l.revoked_at,
	COALESCE((SELECT string_agg(device, ' ') FROM oauth_link_devices WHERE link = l.id), '')`

// Link returns a link, live or not, or an error wrapping store.ErrNotFound.
func (s *Store) Link(ctx context.Context, id string) (oauth.Link, error) {
	links, err := s.links(ctx, `l.id = $1`, id)
	if err == nil && len(links) == 0 {
		err = fmt.Errorf("link %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return oauth.Link{}, err
	}
	return links[0], nil
}

// LinkHolder is the user of an account link and whether it is live
// (auth.Bindings).
func (s *Store) LinkHolder(ctx context.Context, id string) (access.UserID, bool, error) {
	l, err := s.Link(ctx, id)
	return l.User, l.Live(), err
}

// LinksOf returns the user's live links, oldest first.
func (s *Store) LinksOf(ctx context.Context, user access.UserID) ([]oauth.Link, error) {
	return s.links(ctx, `l.user_id = $1 AND l.linked_at != 0 AND l.revoked_at = 0`, string(user))
}

func (s *Store) links(ctx context.Context, where string, args ...any) ([]oauth.Link, error) {
	rows, err := s.q(ctx).Query(ctx, `SELECT `+linkColumns+` FROM oauth_links l JOIN users u ON u.id = l.user_id
		WHERE `+where+` ORDER BY l.created_at, l.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("links: %w", err)
	}
	defer rows.Close()
	out, err := sqlrow.Collect(rows, sqlrow.Link)
	if err != nil {
		return nil, fmt.Errorf("links: %w", err)
	}
	return out, nil
}

// RevokeLink marks a link revoked and deletes its tokens in one
// transaction, reporting whether the link was live until now. An unknown
// link is an error wrapping store.ErrNotFound.
func (s *Store) RevokeLink(ctx context.Context, id string, at time.Time) (bool, error) {
	var was bool
	err := s.inTx(ctx, func(q querier) error {
		var revoked int64
		err := q.QueryRow(ctx, `SELECT revoked_at FROM oauth_links WHERE id = $1`, id).Scan(&revoked)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		was = revoked == 0
		if was {
			if _, err := q.Exec(ctx, `UPDATE oauth_links SET revoked_at = $1 WHERE id = $2`, sqlrow.Nanos(at), id); err != nil {
				return err
			}
		}
		_, err = q.Exec(ctx, `DELETE FROM oauth_tokens WHERE link = $1`, id)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("revoke link %s: %w", id, err)
	}
	return was, nil
}

// LiveLinks returns every live link of client, oldest first.
func (s *Store) LiveLinks(ctx context.Context, client string) ([]oauth.Link, error) {
	return s.links(ctx, `l.client = $1 AND l.linked_at != 0 AND l.revoked_at = 0`, client)
}
