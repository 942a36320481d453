package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/ringrift/ringriftd/engine"
	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
	"github.com/ringrift/ringriftd/internal/gen"
	"github.com/ringrift/ringriftd/journal"
)

// replayCLI measures the replay command as an operator runs it, whole
// process (start, open, scan, output to /dev/null) on a generated journal
// of scanEvents events written by the engine with every policy on — the
// same traffic as the rebuild figures, so its rejected log holds the
// generator's refused events too: replay.lost.seconds,
// replay.rebuild_cli.seconds and the peak RSS of each.
func (s *suite) replayCLI() error {
	if !s.want("replay.lost") && !s.want("replay.rebuild_cli") {
		return nil
	}
	bin := filepath.Join(s.dir, "replay-bin")
	build := exec.CommandContext(s.ctx, "go", "build", "-o", bin, "./cmd/replay")
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	build.Dir, build.Stderr = root, s.log
	if err := build.Run(); err != nil {
		return fmt.Errorf("building cmd/replay: %w", err)
	}
	dir := s.tempDir()
	if err := writeGenerated(s, dir); err != nil {
		return err
	}
	for _, m := range []struct {
		name string
		args []string
	}{
		{"replay.lost", []string{"lost", "--journal", dir}},
		{"replay.rebuild_cli", []string{"rebuild", "--journal", dir, "--json"}},
	} {
		if !s.want(m.name) {
			continue
		}
		var rss []float64
		if _, err := s.median(m.name+".seconds", func() (float64, error) {
			secs, mb, err := timeProcess(s, bin, m.args)
			rss = append(rss, mb)
			return secs, err
		}); err != nil {
			return err
		}
		s.report(m.name+".rss_mb", maxOf(rss))
	}
	return nil
}

// writeGenerated appends scanEvents generated events through the engine.
func writeGenerated(s *suite, dir string) error {
	live := engine.New(engine.Options{Policies: flows.DefaultPolicyConfig()})
	j, err := journal.Open(dir, journal.Options{Hook: live})
	if err != nil {
		return err
	}
	fmt.Fprintf(s.log, "appending %d generated events for the replay figures\n", s.scanEvents)
	if err := appendGenerated(s, j, nil); err != nil {
		j.Close()
		return err
	}
	return j.Close()
}

// appendGenerated appends generated events (seed 7, batches of 1,000) until
// the journal holds scanEvents; after each batch it calls after (if set).
func appendGenerated(s *suite, j *journal.Journal, after func() error) error {
	g := gen.New(gen.Options{Seed: 7})
	batch := make([]event.Event, 0, 1000)
	for j.Durable() < uint64(s.scanEvents) {
		batch = batch[:0]
		for k := 0; k < 1000; k++ {
			batch = append(batch, g.Next())
		}
		if _, err := j.Append(s.ctx, batch, journal.AppendOptions{}); err != nil {
			return err
		}
		if after != nil {
			if err := after(); err != nil {
				return err
			}
		}
	}
	return nil
}

// timeProcess runs the binary with its output to /dev/null and returns its
// wall time and peak RSS in MB. replay lost exits 1 when it finds anything
// (the generated journal has refused events): that is not a failure here.
func timeProcess(s *suite, bin string, args []string) (float64, float64, error) {
	cmd := exec.CommandContext(s.ctx, bin, append(args, "--no-progress")...)
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return 0, 0, err
	}
	defer devnull.Close()
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = devnull, &stderr
	start := time.Now()
	mb, err := peakRSS(cmd)
	secs := time.Since(start).Seconds()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 1 {
		err = nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("replay %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return secs, mb, nil
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("run the bench from inside the module (go env GOMOD is empty)")
	}
	return filepath.Dir(mod), nil
}

func maxOf(vs []float64) float64 {
	m := 0.0
	for _, v := range vs {
		m = max(m, v)
	}
	return m
}
