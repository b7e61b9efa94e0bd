package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/latchkey/latchkey/credential"
)

// Every command that prints takes -o table (the default) or -o json.
// In json mode it prints one JSON value on stdout and nothing else there:
//
//   - a list prints an array of its items — the same shape with or without
//     paging flags, so that scripts written for a full list keep working;
//     when --limit stopped it before the end, the cursor of the next page
//     is printed on stderr (nextCursorLine), in table mode too;
//   - a command that shows or changes one thing prints that thing as it is
//     afterwards (a user, a role, a key, a session);
//   - a command that leaves nothing to show (a delete) prints
//     {"success": true, …} with what it did.

// checkOutput refuses an unknown -o before a command changes anything, so
// that a key is never made and then lost to a typo. The root command runs
// it before every command.
func (a *app) checkOutput() error {
	switch a.output {
	case "table", "", "json":
		return nil
	}
	return fmt.Errorf("unknown output format %q: use table or json", a.output)
}

// printOut writes v as indented JSON for -o json, or as a table of the given
// columns and rows.
func (a *app) printOut(v any, header []string, rows [][]string) error {
	switch a.output {
	case "json":
		return printJSON(a.stdout, v)
	case "table", "":
		return printTable(a.stdout, header, rows)
	default:
		return fmt.Errorf("unknown output format %q: use table or json", a.output)
	}
}

// printDone writes v for -o json, or the sentence that says what was done.
func (a *app) printDone(v any, format string, args ...any) error {
	if a.output == "json" {
		return printJSON(a.stdout, v)
	}
	_, err := fmt.Fprintf(a.stdout, format+"\n", args...)
	return err
}

// success is what a command that leaves nothing to show prints with -o json.
type success struct {
	Success bool   `json:"success"`
	Message string `json:"message"`
}

func done(format string, args ...any) success {
	return success{Success: true, Message: fmt.Sprintf(format, args...)}
}

// nextCursorLine is how a list stopped by --limit tells where the next page
// starts, on stderr: "latchkey: next page: --cursor CURSOR".
const nextCursorLine = "latchkey: next page: --cursor "

// printNext writes the cursor of the next page on stderr, if there is one.
func (a *app) printNext(next string) {
	if next != "" {
		fmt.Fprintln(a.stderr, nextCursorLine+next)
	}
}

// collect reads a list a page at a time from fetch, from cursor on: every
// item when limit is 0, else limit items at most, and then the cursor of
// the next page ("" when there is none). keep, when not nil, drops items
// that do not count towards the limit.
func collect[T any](limit int, cursor string, keep func(T) bool,
	fetch func(limit int, cursor string) (*credential.Page[T], error)) ([]T, string, error) {
	items := []T{}
	for {
		want := credential.MaxPageSize
		if limit > 0 {
			want = min(limit-len(items), credential.MaxPageSize)
		}
		page, err := fetch(want, cursor)
		if err != nil {
			return nil, "", err
		}
		for _, it := range page.Items {
			if keep == nil || keep(it) {
				items = append(items, it)
			}
		}
		cursor = page.Next
		if cursor == "" || limit > 0 && len(items) >= limit {
			return items, cursor, nil
		}
	}
}

func printTable(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// stamp writes a time for a table: RFC 3339 in UTC, to the second.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Truncate(time.Second).Format(time.RFC3339)
}

func stampPtr(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return stamp(*t)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// readSecret returns a password from the first line of stdin or from the
// named environment variable: never from the command line, where other
// users of the machine could read it.
func (a *app) readSecret(fromStdin bool, envName string) (string, error) {
	switch {
	case fromStdin && envName != "":
		return "", fmt.Errorf("use either --password-stdin or --password-env, not both")
	case fromStdin:
		b, err := io.ReadAll(io.LimitReader(a.stdin, 64*1024))
		if err != nil {
			return "", fmt.Errorf("read password from stdin: %w", err)
		}
		pw, _, _ := strings.Cut(string(b), "\n")
		if pw = strings.TrimSuffix(pw, "\r"); pw == "" {
			return "", fmt.Errorf("--password-stdin: the first line of stdin is empty")
		}
		return pw, nil
	case envName != "":
		pw := a.getenv(envName)
		if pw == "" {
			return "", fmt.Errorf("environment variable %s is empty or not set", envName)
		}
		return pw, nil
	}
	return "", nil
}
