package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// printOut writes v as indented JSON for -o json, or as a table of the given
// columns and rows.
func (a *app) printOut(v any, header []string, rows [][]string) error {
	switch a.output {
	case "json":
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case "table", "":
		return printTable(a.stdout, header, rows)
	default:
		return fmt.Errorf("unknown output format %q: use table or json", a.output)
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
		return strings.TrimSuffix(pw, "\r"), nil
	case envName != "":
		pw := a.getenv(envName)
		if pw == "" {
			return "", fmt.Errorf("environment variable %s is empty or not set", envName)
		}
		return pw, nil
	}
	return "", nil
}
