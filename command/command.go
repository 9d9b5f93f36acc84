package command

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/agext/levenshtein"
	"golang.org/x/term"
)

// Exit codes (SPEC §2; 3 is fmt -check's "files need formatting", as in Terraform).
const (
	ExitOK          = 0
	ExitError       = 1
	ExitChanges     = 2
	ExitNeedsFormat = 3
	ExitInterrupted = 130
)

// Command is one entry of the command table. Others add commands with Register.
type Command struct {
	Name     string
	Synopsis string // one line, for the command list
	// Help is the full help text printed by -help (usage line, description, flags, examples).
	Help string
	Run  func(m *Meta, args []string) int
}

var commands = map[string]*Command{}

// Register adds a command to the table (called from init functions of this package).
func Register(c *Command) {
	if _, dup := commands[c.Name]; dup {
		panic("command registered twice: " + c.Name)
	}
	commands[c.Name] = c
}

// Meta carries what every command needs: streams, global flags and the environment.
type Meta struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Chdir is the -chdir directory ("" = current directory). Paths from the command line are
	// resolved against it by Path.
	Chdir   string
	NoColor bool
	// Env is the process environment as "K=V" strings.
	Env []string
	// stream, when set (plan -json, apply -json), also receives every
	// error and diagnostic the command reports, as diagnostic messages.
	stream *uiStream
}

// Path resolves a command-line path against -chdir.
func (m *Meta) Path(p string) string {
	if m.Chdir == "" || filepath.IsAbs(p) || p == "-" {
		return p
	}
	return filepath.Join(m.Chdir, p)
}

// Color reports whether output to w may use colour: w is a terminal, -no-color was not given
// and NO_COLOR is unset.
func (m *Meta) Color(w io.Writer) bool {
	if m.NoColor || m.Getenv("NO_COLOR") != "" {
		return false
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Width is the terminal width of w, or 78 when w is not a terminal.
func (m *Meta) Width(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		if wd, _, err := term.GetSize(int(f.Fd())); err == nil && wd > 20 {
			return wd - 1
		}
	}
	return 78
}

// Getenv looks a variable up in Env.
func (m *Meta) Getenv(k string) string {
	for _, kv := range m.Env {
		if key, v, ok := strings.Cut(kv, "="); ok && key == k {
			return v
		}
	}
	return ""
}

// Errorf prints "Error: ..." on stderr and returns ExitError.
func (m *Meta) Errorf(format string, args ...any) int {
	fmt.Fprintf(m.Stderr, "Error: "+format+"\n", args...)
	if m.stream != nil {
		m.stream.errorText(fmt.Sprintf(format, args...))
	}
	return ExitError
}

// FlagSet returns a flag set for a command whose errors and -help print the command's help.
func (m *Meta) FlagSet(c *Command) *flag.FlagSet {
	fs := flag.NewFlagSet(c.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.BoolVar(&m.NoColor, "no-color", m.NoColor, "")
	return fs
}

// ParseFlags parses args; it prints help for -help and an error for bad flags. done reports
// that the command must return code.
func (m *Meta) ParseFlags(c *Command, fs *flag.FlagSet, args []string) (code int, done bool) {
	err := fs.Parse(args)
	if err == flag.ErrHelp {
		fmt.Fprint(m.Stdout, strings.TrimLeft(c.Help, "\n"))
		return ExitOK, true
	}
	if err != nil {
		fmt.Fprintf(m.Stderr, "Error: %v\n\nRun \"b2plan %s -help\" for usage.\n", err, c.Name)
		return ExitError, true
	}
	return 0, false
}

// Run is the whole CLI: b2plan [global flags] <command> [flags] [args]. It returns the exit code.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	m := &Meta{Stdin: stdin, Stdout: stdout, Stderr: stderr, Env: os.Environ()}
	return m.run(args)
}

// RunWithEnv is Run with an explicit environment (tests).
func RunWithEnv(args []string, env []string, stdin io.Reader, stdout, stderr io.Writer) int {
	m := &Meta{Stdin: stdin, Stdout: stdout, Stderr: stderr, Env: env}
	return m.run(args)
}

func (m *Meta) run(args []string) (code int) {
	defer func() {
		if v := recover(); v != nil {
			code = m.internalError(v)
		}
	}()
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		a := strings.TrimPrefix(args[0], "-")
		a = strings.TrimPrefix(a, "-")
		name, val, hasVal := strings.Cut(a, "=")
		switch name {
		case "chdir":
			if !hasVal {
				if len(args) < 2 {
					return m.Errorf("-chdir needs a directory: -chdir=DIR")
				}
				val = args[1]
				args = args[1:]
			}
			if st, err := os.Stat(val); err != nil || !st.IsDir() {
				return m.Errorf("-chdir=%s: not a directory", val)
			}
			m.Chdir = val
		case "no-color":
			m.NoColor = true
		case "version", "v":
			return runVersion(m, nil)
		case "help", "h":
			m.usage(m.Stdout)
			return ExitOK
		default:
			fmt.Fprintf(m.Stderr, "Error: unknown global flag %s\n\n", args[0])
			m.usage(m.Stderr)
			return ExitError
		}
		args = args[1:]
	}
	if len(args) == 0 {
		m.usage(m.Stderr)
		return ExitError
	}
	name := args[0]
	if name == "help" {
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				fmt.Fprint(m.Stdout, strings.TrimLeft(c.Help, "\n"))
				return ExitOK
			}
		}
		m.usage(m.Stdout)
		return ExitOK
	}
	c, ok := commands[name]
	if !ok {
		msg := fmt.Sprintf("Error: unknown command %q.", name)
		if s := closest(name, commandNames()); s != "" {
			msg += fmt.Sprintf(" Did you mean %q?", s)
		}
		fmt.Fprintf(m.Stderr, "%s\n\n", msg)
		m.usage(m.Stderr)
		return ExitError
	}
	return c.Run(m, args[1:])
}

func commandNames() []string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func closest(given string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := levenshtein.Distance(given, c, nil); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func (m *Meta) usage(w io.Writer) {
	fmt.Fprint(w, `Usage: b2plan [global flags] <command> [flags] [DIR | FILE]

Declarative provisioning for Backblaze B2: buckets, application keys and folder layouts as HCL.

Commands:
`)
	for _, n := range commandNames() {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].Synopsis)
	}
	fmt.Fprint(w, `
Global flags:
  -chdir=DIR   run as if started in DIR
  -no-color    no colour in the output (colour is only used on a terminal anyway)
  -version     print the version and exit
  -help        this help

Run "b2plan <command> -help" for the flags and examples of a command.
`)
}

// stringList is a repeatable string flag (-var a=b -var c=d).
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }
