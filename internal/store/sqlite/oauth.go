package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"vigil/internal/access"
	"vigil/internal/oauth"
	"vigil/internal/store"
	"vigil/internal/store/sqlrow"
)

var _ oauth.Store = (*Store)(nil)

// querier is what both *sql.DB and *sql.Tx offer.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

type txKey struct{}

// BeginTx starts a transaction that the OAuth methods called with the
// returned context join (fosite's storage.Transactional). Transactions do
// not nest: while one is open on ctx, another statement outside it would
// wait for the write lock it holds.
func (s *Store) BeginTx(ctx context.Context) (context.Context, error) {
	if _, ok := ctx.Value(txKey{}).(*sql.Tx); ok {
		return nil, errors.New("begin transaction: one is already open on this context")
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin transaction: %w", err)
	}
	return context.WithValue(ctx, txKey{}, tx), nil
}

// Commit commits the transaction BeginTx put in ctx.
func (s *Store) Commit(ctx context.Context) error {
	tx, ok := ctx.Value(txKey{}).(*sql.Tx)
	if !ok {
		return errors.New("commit: no transaction on this context")
	}
	return tx.Commit()
}

// Rollback rolls back the transaction BeginTx put in ctx.
func (s *Store) Rollback(ctx context.Context) error {
	tx, ok := ctx.Value(txKey{}).(*sql.Tx)
	if !ok {
		return errors.New("rollback: no transaction on this context")
	}
	return tx.Rollback()
}

// q returns the transaction open on ctx, or the database.
func (s *Store) q(ctx context.Context) querier {
	if tx, ok := ctx.Value(txKey{}).(*sql.Tx); ok {
		return tx
	}
	return s.db
}

// inTx runs f in the transaction open on ctx, or in a new one.
func (s *Store) inTx(ctx context.Context, f func(q querier) error) error {
	if tx, ok := ctx.Value(txKey{}).(*sql.Tx); ok {
		return f(tx)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// CreateLink stores a new link with its devices.
func (s *Store) CreateLink(ctx context.Context, l oauth.Link) error {
	err := s.inTx(ctx, func(q querier) error {
		_, err := q.ExecContext(ctx, `INSERT INTO oauth_links (id, user, client, agent_user_id, created_at) VALUES (?, ?, ?, ?, ?)`,
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
		if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM oauth_links WHERE id = ? AND revoked_at = 0`, id).Scan(&live); err != nil {
			return err
		}
		if live == 0 {
			return store.ErrNotFound
		}
		if _, err := q.ExecContext(ctx, `DELETE FROM oauth_link_devices WHERE link = ?`, id); err != nil {
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
		if _, err := q.ExecContext(ctx, `INSERT OR IGNORE INTO oauth_link_devices (link, device) VALUES (?, ?)`, link, string(d)); err != nil {
			return err
		}
	}
	return nil
}

const linkColumns = `l.id, l.user, u.name, l.client, l.agent_user_id, l.created_at, l.linked_at, l.revoked_at,
	COALESCE((SELECT group_concat(device, ' ') FROM oauth_link_devices WHERE link = l.id), '')`

// Link returns a link, live or not, or an error wrapping store.ErrNotFound.
func (s *Store) Link(ctx context.Context, id string) (oauth.Link, error) {
	links, err := s.links(ctx, `l.id = ?`, id)
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
	return s.links(ctx, `l.user = ? AND l.linked_at != 0 AND l.revoked_at = 0`, string(user))
}

func (s *Store) links(ctx context.Context, where string, args ...any) ([]oauth.Link, error) {
	rows, err := s.q(ctx).QueryContext(ctx, `SELECT `+linkColumns+` FROM oauth_links l JOIN users u ON u.id = l.user
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
		err := q.QueryRowContext(ctx, `SELECT revoked_at FROM oauth_links WHERE id = ?`, id).Scan(&revoked)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		was = revoked == 0
		if was {
			if _, err := q.ExecContext(ctx, `UPDATE oauth_links SET revoked_at = ? WHERE id = ?`, sqlrow.Nanos(at), id); err != nil {
				return err
			}
		}
		_, err = q.ExecContext(ctx, `DELETE FROM oauth_tokens WHERE link = ?`, id)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("revoke link %s: %w", id, err)
	}
	return was, nil
}

// LiveLinks returns every live link of client, oldest first.
func (s *Store) LiveLinks(ctx context.Context, client string) ([]oauth.Link, error) {
	return s.links(ctx, `l.client = ? AND l.linked_at != 0 AND l.revoked_at = 0`, client)
}
