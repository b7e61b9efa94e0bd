package testenv

import (
	"context"
	"log/slog"
	"strings"
	"sync"
)

// LogLines is a log handler that keeps each record at Info or above as
// "LEVEL message", for tests that check what was logged. Its zero value is
// ready; it is safe for concurrent use.
type LogLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *LogLines) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelInfo }

func (l *LogLines) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, r.Level.String()+" "+r.Message)
	return nil
}

func (l *LogLines) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *LogLines) WithGroup(string) slog.Handler      { return l }

// All returns the lines kept so far.
func (l *LogLines) All() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// Matching counts the lines that contain s.
func (l *LogLines) Matching(s string) int {
	n := 0
	for _, line := range l.All() {
		if strings.Contains(line, s) {
			n++
		}
	}
	return n
}
