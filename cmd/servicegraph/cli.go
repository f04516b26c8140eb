package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and failed
	exitUsage   = 2 // the command line or the configuration is wrong
)

// command is one subcommand: what --help lists.
type command struct{ name, purpose string }

// commands are the subcommands, in the order --help lists them.
var commands = []command{
	{"serve", "receive OTLP traces and serve the live graph (the default command)"},
	{"demo", "run the service fed with generated shop traffic, to try it out"},
	{"render", "draw OTLP/JSON trace files offline as DOT, SVG or PNG"},
	{"diff", "compare two trace files or saved snapshots: what was added, removed or changed"},
	{"snapshot", "save a window of a running instance's graph as a versioned JSON snapshot"},
	{"help", "show this help, or a command's (servicegraph help COMMAND)"},
}

// purpose returns a command's one-line purpose.
func purpose(name string) string {
	for _, c := range commands {
		if c.name == name {
			return c.purpose
		}
	}
	return ""
}

// writeUsage writes the top-level help: the commands first.
func writeUsage(w io.Writer) {
	var b strings.Builder
	b.WriteString("servicegraph builds a live service graph, span-link edges included, from\nOpenTelemetry traces.\n\n")
	b.WriteString("Usage:\n  servicegraph [COMMAND] [flags]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-8s %s\n", c.name, c.purpose)
	}
	b.WriteString("\nRun 'servicegraph COMMAND --help' for a command's flags.\n")
	b.WriteString("Exit status: 0 done, 1 failed, 2 wrong command line or configuration.\n")
	io.WriteString(w, b.String())
}

// usageError is a wrong command line or configuration: main prints it with
// a one-line hint and exits 2.
type usageError struct {
	hint string // e.g. "run 'servicegraph serve --help' for the flags"
	err  error
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// flagsHint is the hint of a usage error of command cmd.
func flagsHint(cmd string) string {
	return fmt.Sprintf("run 'servicegraph %s --help' for the flags", cmd)
}

// errUsage wraps err as a usage error of command cmd.
func errUsage(cmd string, err error) error {
	return &usageError{hint: flagsHint(cmd), err: err}
}

// parseFlags parses args into fs, whose name is "servicegraph CMD". It
// prints nothing itself: -h and --help write fs.Usage to stdout and return
// flag.ErrHelp; any other problem is returned as a usage error, printed
// once by main.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	usage := fs.Usage
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.Usage = usage
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stdout)
		fs.Usage()
		return flag.ErrHelp
	case err != nil:
		return errUsage(strings.TrimPrefix(fs.Name(), "servicegraph "), err)
	}
	return nil
}

// report prints err, if any, to stderr and returns the exit status: a
// usage error is printed once, with its hint; help is not an error.
func report(err error, stderr io.Writer) int {
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "servicegraph: %v\n%s\n", ue.err, ue.hint)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "servicegraph: %v\n", err)
		return exitFailure
	}
}
