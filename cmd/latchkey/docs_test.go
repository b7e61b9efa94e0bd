package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// documented are the files whose command lines TestDocumentedCommandsParse
// checks besides docs/*.md, and the fewest each must hold (so that a broken
// extraction cannot pass by finding none).
var documented = map[string]int{
	"../../README.md":              5,
	"../../docs/administration.md": 40,
	"../../docs/authentication.md": 20,
}

// TestDocumentedCommandsParse takes every latchkey command line shown in
// the shell blocks of README.md and docs/*.md — "latchkey …" or
// "go run ./cmd/latchkey …", also after a pipe, an environment assignment
// or "$(" — and checks, without running it, that its command exists and
// that its flags and arguments parse.
func TestDocumentedCommandsParse(t *testing.T) {
	docs, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	files := maps.Clone(documented)
	for _, d := range docs {
		files[d] = max(files[d], 0)
	}
	for file, least := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			lines, err := documentedCommands(file)
			if err != nil {
				t.Fatal(err)
			}
			if len(lines) < least {
				t.Errorf("found %d latchkey command lines, want at least %d", len(lines), least)
			}
			for _, l := range lines {
				if err := parseOnly(l.args); err != nil {
					t.Errorf("%s:%d: latchkey %s: %v", filepath.Base(file), l.line, strings.Join(l.args, " "), err)
				}
			}
		})
	}
	// The test itself: what does not parse is caught.
	for _, bad := range [][]string{{"user", "frobnicate"}, {"user", "list", "--colour"}, {"role"},
		{"session", "revoke"}, {"user", "show"}, {"nosuch"}} {
		if parseOnly(bad) == nil {
			t.Errorf("latchkey %s parses", strings.Join(bad, " "))
		}
	}
}

// commandLine is one latchkey command line of a document.
type commandLine struct {
	line int      // where it starts
	args []string // after "latchkey"
}

// documentedCommands reads the latchkey command lines of the fenced code
// blocks of a Markdown file: every line of a block marked sh, bash, shell
// or console, and the lines after a "$ " prompt in others.
func documentedCommands(file string) ([]commandLine, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []commandLine
	sc := bufio.NewScanner(f)
	// In a block marked as shell every line is; in an unmarked one (often
	// a command's output) only those after a "$ " prompt.
	inBlock, marked := false, false
	var pending strings.Builder
	start, n := 0, 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if fence, ok := strings.CutPrefix(strings.TrimSpace(line), "```"); ok {
			if inBlock && pending.Len() > 0 {
				return nil, fmt.Errorf("%s:%d: the block ends inside a command", file, start)
			}
			inBlock = !inBlock
			marked = false
			switch strings.TrimSpace(fence) {
			case "sh", "bash", "shell", "console":
				marked = inBlock
			}
			continue
		}
		if !inBlock {
			continue
		}
		if pending.Len() == 0 {
			start = n
			var prompted bool
			if line, prompted = strings.CutPrefix(line, "$ "); !marked && !prompted {
				continue
			}
		}
		if cont, ok := strings.CutSuffix(line, `\`); ok {
			pending.WriteString(cont + " ")
			continue
		}
		pending.WriteString(line)
		cmds, err := shellCommands(pending.String())
		if errors.Is(err, errUnterminated) {
			pending.WriteString("\n") // a quoted string goes on
			continue
		} else if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", file, start, err)
		}
		pending.Reset()
		for _, words := range cmds {
			for len(words) > 0 && isAssignment(words[0]) {
				words = words[1:]
			}
			switch {
			case len(words) > 0 && words[0] == "latchkey":
				out = append(out, commandLine{start, words[1:]})
			case len(words) > 2 && words[0] == "go" && words[1] == "run" && words[2] == "./cmd/latchkey":
				out = append(out, commandLine{start, words[3:]})
			}
		}
	}
	if pending.Len() > 0 {
		return nil, fmt.Errorf("%s:%d: unterminated quote", file, start)
	}
	return out, sc.Err()
}

var errUnterminated = errors.New("unterminated quote")

func isAssignment(w string) bool {
	name, _, ok := strings.Cut(w, "=")
	return ok && name != "" && !strings.ContainsAny(name, "-./$'\"")
}

// shellCommands splits one line of shell into its simple commands' words:
// quotes and backslashes as the shell reads them, "|", "||", "&&", ";",
// "&", "(", ")" and "$(" between commands, "#" starting a comment, and
// redirections dropped. Variables stay as written.
func shellCommands(line string) ([][]string, error) {
	var cmds [][]string
	var words []string
	var w strings.Builder
	inWord := false
	skipNext := false // the word after a redirection is a file name
	endWord := func() {
		if inWord {
			if !skipNext {
				words = append(words, w.String())
			}
			w.Reset()
			inWord, skipNext = false, false
		}
	}
	endCmd := func() {
		endWord()
		if len(words) > 0 {
			cmds = append(cmds, words)
		}
		words = nil
	}
	rs := []rune(line)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch {
		case c == '\'':
			j := i + 1
			for j < len(rs) && rs[j] != '\'' {
				j++
			}
			if j == len(rs) {
				return nil, errUnterminated
			}
			w.WriteString(string(rs[i+1 : j]))
			inWord, i = true, j
		case c == '"':
			j := i + 1
			for ; j < len(rs) && rs[j] != '"'; j++ {
				if rs[j] == '\\' && j+1 < len(rs) && strings.ContainsRune("$`\"\\", rs[j+1]) {
					j++
				}
				w.WriteRune(rs[j])
			}
			if j == len(rs) {
				return nil, errUnterminated
			}
			inWord, i = true, j
		case c == '\\' && i+1 < len(rs):
			i++
			w.WriteRune(rs[i])
			inWord = true
		case c == '#' && !inWord:
			i = len(rs)
		case c == '$' && i+1 < len(rs) && rs[i+1] == '(':
			endCmd()
			i++
		case strings.ContainsRune("|&;()", c):
			endCmd()
		case c == '>' || c == '<':
			if inWord && strings.Trim(w.String(), "0123456789") == "" {
				w.Reset() // the fd of 2>
				inWord = false
			}
			endWord()
			for i+1 < len(rs) && (rs[i+1] == '>' || rs[i+1] == '&') {
				i++
			}
			skipNext = true
			for i+1 < len(rs) && rs[i+1] == ' ' {
				i++
			}
		case c == ' ' || c == '\t':
			endWord()
		default:
			w.WriteRune(c)
			inWord = true
		}
	}
	endCmd()
	return cmds, nil
}

// parseOnly finds the command of args and parses its flags and arguments,
// as running it would, without running it.
func parseOnly(args []string) error {
	a := &app{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }}
	root := a.rootCommand()
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	cmd, rest, err := root.Find(args)
	if err != nil {
		return err
	}
	cmd.InitDefaultHelpFlag()
	if err := cmd.ParseFlags(rest); errors.Is(err, pflag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	if help, _ := cmd.Flags().GetBool("help"); help {
		return nil
	}
	if !cmd.Runnable() {
		return fmt.Errorf("%q is not a command that runs (it has subcommands)", cmd.CommandPath())
	}
	if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
		return err
	}
	if err := cmd.ValidateRequiredFlags(); err != nil {
		return err
	}
	return cmd.ValidateFlagGroups()
}
