package sqlite

import (
	"container/list"
	"context"
	"database/sql/driver"
	"io"
	"strings"
)

// maxCachedStmts bounds the prepared statements a connection keeps. The
// store's hot queries (sessions, tokens, grants' devices and shares, the
// access history's writes) are a few dozen texts; queries built with a
// varying WHERE take the rest, least recently used out first.
const maxCachedStmts = 128

// stmtCache keeps a connection's prepared statements by query text, so a
// hot query is parsed and planned once per connection instead of on every
// call. SQLite recompiles a prepared statement by itself when the schema
// changed since it was prepared (sqlite3_prepare_v2), so a cached statement
// never runs against a stale schema. database/sql uses a connection from
// one goroutine at a time: no lock.
type stmtCache struct {
	lru  list.List                // of *cachedStmt, most recently used at the front
	byQ  map[string]*list.Element // query text to its element in lru
	prep driver.ConnPrepareContext
}

// cachedStmt is one prepared statement. A statement whose rows are open
// is busy: the same text run again meanwhile (inside a transaction, one
// connection) is prepared afresh, and a busy statement evicted from the
// cache is closed only when its rows close.
type cachedStmt struct {
	query   string
	stmt    driver.Stmt
	busy    bool
	evicted bool
}

// cacheable reports whether query is one statement of the kinds worth
// keeping: not a script (migrations), not PRAGMA, VACUUM or DDL.
func cacheable(query string) bool {
	q := strings.TrimLeft(query, " \t\r\n(")
	if strings.Contains(strings.TrimRight(query, " \t\r\n;"), ";") {
		return false
	}
	for _, p := range []string{"SELECT", "INSERT", "UPDATE", "DELETE"} {
		if hasPrefixFold(q, p) {
			return true
		}
	}
	return false
}

// get returns query's statement, prepared now if it is not cached, or nil
// when query is not cacheable or its statement is busy.
func (c *stmtCache) get(ctx context.Context, query string) (*cachedStmt, error) {
	if !cacheable(query) {
		return nil, nil
	}
	if e, ok := c.byQ[query]; ok {
		cs := e.Value.(*cachedStmt)
		if cs.busy {
			return nil, nil
		}
		c.lru.MoveToFront(e)
		return cs, nil
	}
	st, err := c.prep.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if c.byQ == nil {
		c.byQ = map[string]*list.Element{}
	}
	cs := &cachedStmt{query: query, stmt: st}
	c.byQ[query] = c.lru.PushFront(cs)
	for c.lru.Len() > maxCachedStmts {
		c.drop(c.lru.Back().Value.(*cachedStmt))
	}
	return cs, nil
}

// drop removes cs from the cache and closes it, or has its rows close it.
func (c *stmtCache) drop(cs *cachedStmt) {
	if e, ok := c.byQ[cs.query]; ok && e.Value == cs {
		c.lru.Remove(e)
		delete(c.byQ, cs.query)
	}
	if cs.busy {
		cs.evicted = true
		return
	}
	cs.stmt.Close()
}

// closeAll closes every statement (the connection is closing).
func (c *stmtCache) closeAll() {
	for c.lru.Len() > 0 {
		cs := c.lru.Back().Value.(*cachedStmt)
		cs.busy = false
		c.drop(cs)
	}
}

// exec runs query on its cached statement, or through uncached when it
// has none.
func (c *stmtCache) exec(ctx context.Context, query string, args []driver.NamedValue,
	uncached func() (driver.Result, error)) (driver.Result, error) {
	return onStmt(ctx, c, query, uncached, func(cs *cachedStmt) (driver.Result, error) {
		return cs.stmt.(driver.StmtExecContext).ExecContext(ctx, args)
	})
}

// query is exec's counterpart for statements that return rows; the
// statement is busy until they close.
func (c *stmtCache) query(ctx context.Context, query string, args []driver.NamedValue,
	uncached func() (driver.Rows, error)) (driver.Rows, error) {
	return onStmt(ctx, c, query, uncached, func(cs *cachedStmt) (driver.Rows, error) {
		rows, err := cs.stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
		if err != nil {
			return nil, err
		}
		cs.busy = true
		return &stmtRows{Rows: rows, cache: c, cs: cs}, nil
	})
}

// onStmt runs cached on query's cached statement, or uncached when it has
// none. A statement that failed (a cancelled context interrupts SQLite, a
// busy database, a vanished table) is dropped, not reused.
func onStmt[T any](ctx context.Context, c *stmtCache, query string, uncached func() (T, error), cached func(*cachedStmt) (T, error)) (T, error) {
	cs, err := c.get(ctx, query)
	if err != nil {
		var zero T
		return zero, err
	}
	if cs == nil {
		return uncached()
	}
	r, err := cached(cs)
	if err != nil {
		c.drop(cs)
	}
	return r, err
}

// stmtRows gives its statement back to the cache when closed, or drops it
// if stepping failed.
type stmtRows struct {
	driver.Rows
	cache  *stmtCache
	cs     *cachedStmt
	failed bool
}

func (r *stmtRows) Next(dest []driver.Value) error {
	err := r.Rows.Next(dest)
	if err != nil && err != io.EOF {
		r.failed = true
	}
	return err
}

func (r *stmtRows) Close() error {
	err := r.Rows.Close()
	r.cs.busy = false
	switch {
	case r.cs.evicted:
		r.cs.stmt.Close()
	case r.failed || err != nil:
		r.cache.drop(r.cs)
	}
	return err
}
