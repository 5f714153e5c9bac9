package sqlite

import (
	"context"
	"database/sql/driver"
	"sync/atomic"

	sqlite3 "modernc.org/sqlite"
)

// tracer sees every statement the store sends to SQLite, so that a test
// can hold a request to the statements it needs (and say which repeat).
type tracer struct {
	note atomic.Pointer[func(query string)] // nil: no one listens
}

func (t *tracer) saw(query string) {
	if f := t.note.Load(); f != nil {
		(*f)(query)
	}
}

// TraceStatements calls f with the text of every statement the store runs
// from now on (nil: stop). It is for tests and debugging; f must be quick.
func (s *Store) TraceStatements(f func(query string)) {
	if f == nil {
		s.tracer.note.Store(nil)
		return
	}
	s.tracer.note.Store(&f)
}

// connector opens SQLite connections that report their statements to t.
type connector struct {
	dsn string
	drv *sqlite3.Driver
	t   *tracer
}

func (c connector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return tracedConn{conn.(sqliteConn), c.t}, nil
}

func (c connector) Driver() driver.Driver { return c.drv }

// sqliteConn is what database/sql uses of modernc's connection.
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// tracedConn is a connection whose statements the tracer sees.
type tracedConn struct {
	sqliteConn
	t *tracer
}

func (c tracedConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	c.t.saw(query)
	return c.sqliteConn.PrepareContext(ctx, query)
}

func (c tracedConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	c.t.saw(query)
	return c.sqliteConn.ExecContext(ctx, query, args)
}

func (c tracedConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	c.t.saw(query)
	return c.sqliteConn.QueryContext(ctx, query, args)
}
