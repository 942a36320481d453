// Command ringriftd is the coordination daemon of the training cluster.
//
// Until the daemon issue lands it only opens the journal, says where it is and
// how many events it holds, and waits for a signal: there is no HTTP API yet.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/ringrift/ringriftd/journal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "ringriftd:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ringriftd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDefault := "./ringrift-data"
	if v := getenv("RINGRIFT_DATA"); v != "" {
		dataDefault = v
	}
	data := fs.String("data", dataDefault, "journal directory (env RINGRIFT_DATA)")
	once := fs.Bool("once", false, "open the journal, report, and exit (for scripts and tests)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	j, err := journal.Open(*data, journal.Options{Logger: log})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "ringriftd: journal at %s holds %d events (no HTTP API yet: see README)\n", *data, j.Durable())
	if !*once {
		<-ctx.Done()
	}
	return j.Close()
}
