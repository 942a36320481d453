package main

import (
	"context"
	"errors"
	"io"
)

// runSimulate is replaced by the simulator.
func runSimulate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return errors.New("simulate: not built yet")
}
