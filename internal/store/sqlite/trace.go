package sqlite

import "sync/atomic"

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
