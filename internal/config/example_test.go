package config

import (
	"flag"
	"os"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite vigil.example.yaml")

// TestExampleLoadsAsDefaults: the example file lists every key, and
// loading it gives exactly the defaults; the committed copy is current.
func TestExampleLoadsAsDefaults(t *testing.T) {
	ex := Example()
	for _, s := range settings() {
		if !strings.Contains(ex, "\n"+s.key+": ") {
			t.Errorf("example lacks %s", s.key)
		}
	}
	path := writeFile(t, ex)
	cfg, _, err := Load([]string{"--config", path}, nil)
	if err != nil {
		t.Fatalf("example does not load: %v", err)
	}
	if !reflect.DeepEqual(cfg, Default()) {
		t.Fatalf("example loads as %+v\nwant the defaults %+v", cfg, Default())
	}
	const committed = "../../vigil.example.yaml"
	if *update {
		if err := os.WriteFile(committed, []byte(ex), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(committed)
	if err != nil || string(got) != ex {
		t.Fatalf("vigil.example.yaml is stale (%v); run go test ./internal/config -run Example -update", err)
	}
}

// TestEverySettingHasAField: each key names a Config field, and the help
// shows each key with its default.
func TestEverySettingHasAField(t *testing.T) {
	h := Help()
	for _, s := range settings() {
		d := DefaultText(s.key) // panics without a field
		if !strings.Contains(h, "--"+flagName(s.key)+"  ("+envName(s.key)+", "+s.key+")") || !strings.Contains(h, "(default: "+d+")") {
			t.Errorf("help lacks %s with default %s", s.key, d)
		}
	}
}
