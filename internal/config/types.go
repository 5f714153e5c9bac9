package config

import (
	"fmt"
	"log/slog"
)

// Secret is a string that never prints: String, GoString, MarshalText and
// LogValue all give "[redacted]". Reveal returns the value itself.
type Secret string

const redacted = "[redacted]"

var (
	_ slog.LogValuer = Secret("")
	_ fmt.Stringer   = Secret("")
	_ fmt.GoStringer = Secret("")
)

// Reveal returns the secret value. Call it only where the value is used.
func (s Secret) Reveal() string { return string(s) }

// String returns "[redacted]".
func (s Secret) String() string { return redacted }

// GoString returns "[redacted]", so %#v does not leak either.
func (s Secret) GoString() string { return redacted }

// LogValue returns "[redacted]" for log/slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText returns "[redacted]", so JSON and YAML encoders do not leak it.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// LogLevel is the minimum level logged: debug, info, warn or error.
type LogLevel string

// Log levels.
const (
	LevelDebug LogLevel = "debug"
	LevelInfo  LogLevel = "info"
	LevelWarn  LogLevel = "warn"
	LevelError LogLevel = "error"
)

// Validate reports whether l is one of the known levels.
func (l LogLevel) Validate() error {
	switch l {
	case LevelDebug, LevelInfo, LevelWarn, LevelError:
		return nil
	}
	return fmt.Errorf("unknown log level %q: want debug, info, warn or error", string(l))
}

// Level returns the slog level for l; unknown levels map to info.
func (l LogLevel) Level() slog.Level {
	switch l {
	case LevelDebug:
		return slog.LevelDebug
	case LevelWarn:
		return slog.LevelWarn
	case LevelError:
		return slog.LevelError
	}
	return slog.LevelInfo
}

// LogFormat is the format of log lines: text or json.
type LogFormat string

// Log formats.
const (
	FormatText LogFormat = "text"
	FormatJSON LogFormat = "json"
)

// Validate reports whether f is one of the known formats.
func (f LogFormat) Validate() error {
	switch f {
	case FormatText, FormatJSON:
		return nil
	}
	return fmt.Errorf("unknown log format %q: want text or json", string(f))
}

// TLSMode is how Vigil gets its certificate: acme, files or off.
type TLSMode string

// TLS modes.
const (
	TLSACME  TLSMode = "acme"
	TLSFiles TLSMode = "files"
	TLSOff   TLSMode = "off"
)

// Validate reports whether m is one of the known modes.
func (m TLSMode) Validate() error {
	switch m {
	case TLSACME, TLSFiles, TLSOff:
		return nil
	}
	return fmt.Errorf("unknown tls mode %q: want acme, files or off", string(m))
}

// StoreKind is where Vigil keeps its records: sqlite or postgres.
type StoreKind string

// Store kinds.
const (
	StoreSQLite   StoreKind = "sqlite"
	StorePostgres StoreKind = "postgres"
)

// Validate reports whether k is one of the known kinds.
func (k StoreKind) Validate() error {
	switch k {
	case StoreSQLite, StorePostgres:
		return nil
	}
	return fmt.Errorf("unknown store %q: want sqlite or postgres", string(k))
}
