// Command replay explains a ringriftd journal after the fact (replay.md):
// timelines, the story of a config or a node, the lost-event report,
// rebuilds and diffs of the projections, policy verification, statistics,
// export and import, and the fixture runner. The logic lives in package
// replay; this is the wiring: flags, sources, output.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/ringrift/ringriftd/fixtures"
)

// errFailed is returned when a command ran but found what it reports (an
// unmet expectation, a lost-event finding): exit status 1 without a usage
// message.
var errFailed = errors.New("failed")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal now kills the process at once
	}()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, errFailed):
		os.Exit(1)
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case err != nil:
		fmt.Fprintln(os.Stderr, "replay:", err)
		os.Exit(2)
	}
}

func usage() string {
	var b strings.Builder
	b.WriteString("usage: replay COMMAND [--journal DIR | --file F.ndjson | --url http://host:port] [flags] ARGS\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-18s %s\n", strings.TrimSpace(c.name+" "+c.args), c.summary)
	}
	fmt.Fprintf(&b, "  %-18s %s\n", "fixture FILE...", "run fixture files and report every unmet expectation")
	b.WriteString(`
Flags may come before or after the arguments ("--" ends them). Every command
but fixture and import reads one source and has --json. A journal
directory is never written: a daemon's open one is read from a copy, made under
$TMPDIR (on the journal's file system its tables are linked, not copied).
Ctrl-C stops a command; a second Ctrl-C kills it at once.

Run "replay COMMAND -h" for a command's flags and an example; "replay --version"
for the build.
`)
	return b.String()
}

// version is the module's version and, when the build recorded it, the VCS
// revision: "replay github.com/ringrift/ringriftd v1.2.0 (rev 3201384c…, modified)".
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "replay (no build information)"
	}
	v := "replay " + bi.Main.Path + " " + bi.Main.Version
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = ", modified"
			}
		}
	}
	if rev != "" {
		v += " (rev " + rev + modified + ")"
	}
	return v
}

// run is the command: main's arguments, environment and standard streams
// are passed in (nothing below reads os.Stdin or writes os.Stdout), so that
// tests run commands in-process.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
		return errors.New("no command")
	}
	e := &env{ctx: ctx, getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	switch args[0] {
	case "fixture":
		return runFixture(e, args[1:])
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage())
		return nil
	case "-version", "--version", "version":
		fmt.Fprintln(stdout, version())
		return nil
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(e, c, args[1:])
		}
	}
	fmt.Fprint(stderr, usage())
	return fmt.Errorf("unknown command %q", args[0])
}

func runFixture(e *env, args []string) error {
	ctx, stdout := e.ctx, e.stdout
	fs := flag.NewFlagSet("replay fixture", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	verbose := fs.Bool("v", false, "also print what happened to each event")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: replay fixture [-v] FILE...

Runs each fixture file (YAML or JSON, fixtures.md) through a fresh in-memory
journal and prints every unmet expectation with what was expected and what was
found. Exits 0 only if every expectation of every file holds.

example:
  replay fixture fixtures/pipeline/*.yaml ./my_case.yaml
`)
		fs.PrintDefaults()
	}
	args, err := parse(e, fs, args)
	if err != nil {
		return err
	}
	if len(args) == 0 {
		fs.Usage()
		return errors.New("fixture: no files")
	}
	failed := 0
	for _, path := range args {
		f, err := fixtures.Load(path)
		if err != nil {
			fmt.Fprintf(stdout, "FAIL %s: %v\n", path, err)
			failed++
			continue
		}
		rep, err := fixtures.Run(ctx, f)
		if err != nil {
			fmt.Fprintf(stdout, "FAIL %s: %v\n", path, err)
			failed++
			continue
		}
		status := "ok  "
		if !rep.OK() {
			status = "FAIL"
			failed++
		}
		fmt.Fprintf(stdout, "%s %s (%s)\n", status, path, rep.Name)
		for _, fl := range rep.Failures {
			fmt.Fprintf(stdout, "     %s\n", fl)
		}
		if *verbose || !rep.OK() {
			for _, o := range rep.Outcomes {
				fmt.Fprintf(stdout, "       %s\n", o)
			}
		}
	}
	if failed > 0 {
		fmt.Fprintf(stdout, "%d of %d fixtures failed\n", failed, len(args))
		return errFailed
	}
	return nil
}
