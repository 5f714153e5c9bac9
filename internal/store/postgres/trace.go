package postgres

import (
	"context"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
)

// tracer sees every statement the store sends to Postgres, so that a test
// can hold a request to the statements it needs.
type tracer struct {
	note atomic.Pointer[func(query string)] // nil: no one listens
}

var _ pgx.QueryTracer = (*tracer)(nil)

func (t *tracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if f := t.note.Load(); f != nil {
		(*f)(d.SQL)
	}
	return ctx
}

func (t *tracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TraceStatements calls f with the text of every statement the store runs
// from now on (nil: stop). It is for tests and debugging; f must be quick.
func (s *Store) TraceStatements(f func(query string)) {
	if f == nil {
		s.tracer.note.Store(nil)
		return
	}
	s.tracer.note.Store(&f)
}
