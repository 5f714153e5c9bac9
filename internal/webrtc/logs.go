package webrtc

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// pionLogs sends pion's logs to slog, one level down: pion warns about
// things that happen on every ordinary teardown ("failed to close...",
// "unhandled STUN..."), so its warnings are debug lines here and its errors
// warnings. Its trace, debug and info lines, some of them per packet, are
// dropped before they are formatted.
type pionLogs struct{ log *slog.Logger }

var _ logging.LoggerFactory = pionLogs{}

// NewLogger returns the logger of one pion component.
func (p pionLogs) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{p.log.With("pion", scope)}
}

type pionLogger struct{ log *slog.Logger }

func (l pionLogger) Trace(string)                 {}
func (l pionLogger) Tracef(string, ...any)        {}
func (l pionLogger) Debug(string)                 {}
func (l pionLogger) Debugf(string, ...any)        {}
func (l pionLogger) Info(string)                  {}
func (l pionLogger) Infof(string, ...any)         {}
func (l pionLogger) Warn(msg string)              { l.emit(slog.LevelDebug, msg) }
func (l pionLogger) Warnf(f string, args ...any)  { l.emitf(slog.LevelDebug, f, args) }
func (l pionLogger) Error(msg string)             { l.emit(slog.LevelWarn, msg) }
func (l pionLogger) Errorf(f string, args ...any) { l.emitf(slog.LevelWarn, f, args) }

func (l pionLogger) emit(level slog.Level, msg string) {
	l.log.Log(context.Background(), level, msg)
}

func (l pionLogger) emitf(level slog.Level, format string, args []any) {
	if l.log.Enabled(context.Background(), level) {
		l.log.Log(context.Background(), level, fmt.Sprintf(format, args...))
	}
}
