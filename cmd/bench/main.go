// Command bench measures ringriftd's performance figures and the raw-Pebble
// limits they are compared with, in one run: `make bench`. Figures go to
// stdout, one `name value` per line; progress and the target checks go to
// stderr.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/ringrift/ringriftd/internal/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := bench.Run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
