package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"vigil/internal/store"
)

// querier is what both the pool and a transaction offer.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

type txKey struct{}

// BeginTx starts a transaction that the methods called with the returned
// context join (fosite's storage.Transactional). Transactions do not nest.
func (s *Store) BeginTx(ctx context.Context) (context.Context, error) {
	if _, ok := ctx.Value(txKey{}).(pgx.Tx); ok {
		return nil, errors.New("begin transaction: one is already open on this context")
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin transaction: %w", err)
	}
	return context.WithValue(ctx, txKey{}, tx), nil
}

// Commit commits the transaction BeginTx put in ctx.
func (s *Store) Commit(ctx context.Context) error {
	tx, ok := ctx.Value(txKey{}).(pgx.Tx)
	if !ok {
		return errors.New("commit: no transaction on this context")
	}
	return tx.Commit(ctx)
}

// Rollback rolls back the transaction BeginTx put in ctx.
func (s *Store) Rollback(ctx context.Context) error {
	tx, ok := ctx.Value(txKey{}).(pgx.Tx)
	if !ok {
		return errors.New("rollback: no transaction on this context")
	}
	return tx.Rollback(ctx)
}

// q returns the transaction open on ctx, or the pool.
func (s *Store) q(ctx context.Context) querier {
	if tx, ok := ctx.Value(txKey{}).(pgx.Tx); ok {
		return tx
	}
	return s.pool
}

// inTx runs f in the transaction open on ctx, or in a new one.
func (s *Store) inTx(ctx context.Context, f func(q querier) error) error {
	if tx, ok := ctx.Value(txKey{}).(pgx.Tx); ok {
		return f(tx)
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return f(tx) })
}

// txAs runs f in a transaction (the one open on ctx, or a new one) and
// wraps its error with what.
func (s *Store) txAs(ctx context.Context, what string, f func(q querier) error) error {
	if err := s.inTx(ctx, f); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// changedOne turns a statement that should have changed one row into
// store.ErrNotFound when it changed none.
func changedOne[ID ~string](tag pgconn.CommandTag, err error, what string, id ID) error {
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%s %s: %w", what, id, store.ErrNotFound)
	}
	return nil
}
