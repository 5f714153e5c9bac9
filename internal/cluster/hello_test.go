package cluster

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"vigil/internal/seal"
	"vigil/internal/testkit"
)

// TestHelloFindsOtherMasterKey: three nodes, one started with another
// master key. Each side names the other in an ERROR with the fix and
// counts it; the two nodes that share a key count nothing.
func TestHelloFindsOtherMasterKey(t *testing.T) {
	nodes := startNodes(t, 3)
	var logs [3]*testkit.Buffer
	var hellos [3]*Hellos
	for i, n := range nodes {
		key := byte(7)
		if i == 2 {
			key = 8 // the odd node
		}
		sealer, err := seal.NewSealer(bytes.Repeat([]byte{key}, seal.MasterKeySize))
		if err != nil {
			t.Fatal(err)
		}
		logs[i] = &testkit.Buffer{}
		bus := NewBus(n.Conn(), sealer, nil, slog.New(slog.NewTextHandler(logs[i], nil)))
		if hellos[i], err = bus.Hello(t.Context(), n.Name(), 200*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	testkit.WaitFor(t, 10*time.Second, "the odd node found by all", func() error {
		got := [3]int{hellos[0].Mismatched(), hellos[1].Mismatched(), hellos[2].Mismatched()}
		if got != [3]int{1, 1, 2} {
			return fmt.Errorf("mismatched nodes seen: %v, want [1 1 2]", got)
		}
		return nil
	})
	for i, want := range []string{"peer=node3", "peer=node3", "peer=node1"} {
		line := logs[i].String()
		if !strings.Contains(line, "level=ERROR") || !strings.Contains(line, "master.key") || !strings.Contains(line, want) {
			t.Errorf("node%d's log does not name %s's master.key at ERROR:\n%s", i+1, want, line)
		}
	}
	if strings.Contains(logs[0].String(), "peer=node2") {
		t.Error("node1 reported node2, which shares its key")
	}
	time.Sleep(time.Second) // five more hellos: the ERROR is not repeated
	if n := strings.Count(logs[0].String(), "peer=node3"); n != 1 {
		t.Errorf("node1 logged node3's key %d times in a second, want once a minute", n)
	}
}
