package record

import (
	"bytes"
	"errors"
	"testing"
)

// sliceWriter keeps what it is given and the first byte's address of each
// write, failing at write failAt (counting from 1) when set.
type sliceWriter struct {
	got    bytes.Buffer
	firsts []*byte
	failAt int
}

func (w *sliceWriter) Write(p []byte) (int, error) {
	if w.failAt > 0 && len(w.firsts)+1 == w.failAt {
		return 0, errors.New("disk full")
	}
	w.firsts = append(w.firsts, &p[0])
	return w.got.Write(p)
}

// TestHandoff: WriteTo passes each write's own bytes to its writer (no
// copy through a buffer) and ends at Close; Read reads them in pieces and
// ends with the writer's error; a reader's close fails a blocked write
// with its error, and a failed WriteTo leaves the writer blocked until it.
func TestHandoff(t *testing.T) {
	writes := [][]byte{bytes.Repeat([]byte{1}, 70000), {2, 3}, bytes.Repeat([]byte{4}, 5)}
	want := bytes.Join(writes, nil)
	errCut := errors.New("cut")
	t.Run("WriteTo", func(t *testing.T) {
		r, w := newHandoff()
		go func() {
			for _, b := range writes {
				if n, err := w.Write(b); n != len(b) || err != nil {
					t.Errorf("write: %d, %v", n, err)
				}
			}
			w.Close()
		}()
		var dst sliceWriter
		n, err := r.WriteTo(&dst)
		if err != nil || n != int64(len(want)) || !bytes.Equal(dst.got.Bytes(), want) {
			t.Fatalf("WriteTo: %d, %v; %d bytes equal %v", n, err, dst.got.Len(), bytes.Equal(dst.got.Bytes(), want))
		}
		for i, b := range writes {
			if dst.firsts[i] != &b[0] {
				t.Errorf("write %d reached the writer as a copy", i)
			}
		}
	})
	t.Run("Read", func(t *testing.T) {
		r, w := newHandoff()
		go func() {
			for _, b := range writes {
				w.Write(b)
			}
			w.CloseWithError(errCut)
		}()
		var got []byte
		buf := make([]byte, 1000)
		var err error
		for err == nil {
			var n int
			n, err = r.Read(buf)
			got = append(got, buf[:n]...)
		}
		if !errors.Is(err, errCut) || !bytes.Equal(got, want) {
			t.Errorf("read %d bytes (equal %v), then %v; want %d and %v", len(got), bytes.Equal(got, want), err, len(want), errCut)
		}
	})
	t.Run("reader closes", func(t *testing.T) {
		r, w := newHandoff()
		done := make(chan error)
		go func() {
			_, err := w.Write([]byte{1})
			done <- err
		}()
		r.CloseWithError(errCut)
		if err := <-done; !errors.Is(err, errCut) {
			t.Errorf("write to a pipe its reader closed: %v, want %v", err, errCut)
		}
	})
	t.Run("WriteTo fails", func(t *testing.T) {
		r, w := newHandoff()
		done := make(chan error)
		go func() {
			var err error
			for _, b := range writes {
				if _, err = w.Write(b); err != nil {
					break
				}
			}
			done <- err
		}()
		if _, err := r.WriteTo(&sliceWriter{failAt: 2}); err == nil {
			t.Fatal("WriteTo through a failing writer: no error")
		}
		r.CloseWithError(errCut)
		if err := <-done; !errors.Is(err, errCut) {
			t.Errorf("write after WriteTo failed and the reader closed: %v, want %v", err, errCut)
		}
	})
}
