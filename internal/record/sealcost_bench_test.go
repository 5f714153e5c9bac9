package record_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"syscall"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/blob"
	"vigil/internal/seal"
)

// sealSegmentSize is a segment of the sealing benchmarks: about a minute
// of a 0.5 Mbit/s camera.
const sealSegmentSize = 4 << 20

// sealFragment is the recorder's write: one fragment (a GOP) at a time.
const sealFragment = 90_000

// BenchmarkSealCost measures what sealing adds to the recorder's writes
// and to playback's reads of a segment on local disk: the same bytes
// stored and read sealed (seal.SegmentWriter into a streaming put, as the
// recorder does; seal.OpenSegment over ranged gets, read whole in
// http.ServeContent's 32 KiB reads) and plain. Besides ns/op it reports
// the process's CPU time per operation (cpu-ns/op, user and system, from
// getrusage): the disk store's fsyncs cost wall time, not CPU.
func BenchmarkSealCost(b *testing.B) {
	sealer, err := seal.NewSealer(bytes.Repeat([]byte{7}, seal.MasterKeySize))
	if err != nil {
		b.Fatal(err)
	}
	secret := bytes.Repeat([]byte{3}, 32)
	plain := make([]byte, sealSegmentSize)
	rand.Read(plain)
	seg := seal.Segment{Stream: access.StreamMain, ID: 1, Start: time.Unix(1_800_000_000, 0)}
	g := issuer.Mint("u-a", "cam-a", access.AudienceWeb, time.Hour)
	store, err := blob.NewDisk(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	write := func(key string, sealed bool) error {
		pr, pw := io.Pipe()
		put := make(chan error, 1)
		go func() { put <- store.Put(ctx, key, pr, -1); pr.Close() }()
		var w io.Writer = pw
		var sw *seal.SegmentWriter
		if sealed {
			if sw, err = sealer.NewSegmentWriter(pw, "cam-a", secret, seg); err != nil {
				return err
			}
			w = sw
		}
		for p := plain; len(p) > 0; p = p[min(len(p), sealFragment):] {
			if _, err := w.Write(p[:min(len(p), sealFragment)]); err != nil {
				return err
			}
		}
		if sw != nil {
			if err := sw.Close(); err != nil {
				return err
			}
		}
		pw.Close()
		return <-put
	}
	buf := make([]byte, 32<<10)
	read := func(key string, sealed bool) error {
		if !sealed {
			rc, err := store.Get(ctx, key, 0, -1)
			if err != nil {
				return err
			}
			defer rc.Close()
			n, err := io.CopyBuffer(io.Discard, rc, buf)
			if err == nil && n != sealSegmentSize {
				err = fmt.Errorf("read %d bytes", n)
			}
			return err
		}
		fi, err := store.Stat(ctx, key)
		if err != nil {
			return err
		}
		sr, err := sealer.OpenSegment(g, secret, seg, blob.ReaderAt(ctx, store, key), fi.Size)
		if err != nil {
			return err
		}
		n, err := io.CopyBuffer(io.Discard, io.NewSectionReader(sr, 0, sr.Size()), buf)
		if err == nil && n != sealSegmentSize {
			err = fmt.Errorf("read %d bytes", n)
		}
		return err
	}
	for _, sealed := range []bool{true, false} {
		name, key := "plain", "plain.seg"
		if sealed {
			name, key = "sealed", "sealed.seg"
		}
		b.Run("write/"+name, func(b *testing.B) {
			b.SetBytes(sealSegmentSize)
			cpu := cpuTime()
			for b.Loop() {
				if err := write(key, sealed); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
		b.Run("read/"+name, func(b *testing.B) {
			b.SetBytes(sealSegmentSize)
			cpu := cpuTime()
			for b.Loop() {
				if err := read(key, sealed); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime is the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
