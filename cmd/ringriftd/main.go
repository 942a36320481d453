// Command ringriftd is the coordination daemon of the training cluster
// (docs/spec/daemon.md): it journals the cluster's events, enforces the flows, takes
// the coordination decisions and serves the projections over HTTP.
//
//	go run ./cmd/ringriftd            # ./ringrift-data, 127.0.0.1:8765
//	go run ./cmd/ringriftd simulate   # drive a running daemon with a simulated cluster
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal now kills the process at once
	}()
	// RINGRIFTD_CPUPROFILE (not a RINGRIFT_ setting: cmd/bench's
	// -daemon-cpuprofile sets it) profiles the whole process.
	if path := os.Getenv("RINGRIFTD_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil && pprof.StartCPUProfile(f) == nil {
			defer f.Close()
			defer pprof.StopCPUProfile()
		}
	}
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errConfig):
		fmt.Fprintln(os.Stderr, "ringriftd:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "ringriftd:", err)
		os.Exit(1)
	}
}

// run starts the daemon (or, with "simulate", the simulator) and returns
// when ctx ends and everything is shut down. Help asked for (--help) and
// --version go to stdout.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "simulate" {
		return runSimulate(ctx, args[1:], getenv, stdout)
	}
	if len(args) == 1 && (args[0] == "--version" || args[0] == "-version") {
		_, err := fmt.Fprintln(stdout, version())
		return err
	}
	cfg, err := parseConfig(args, getenv, stdout)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	return serve(ctx, cfg, newLogger(cfg.LogLevel, stderr), nil)
}

// version is the module version and the VCS revision the binary was built
// from (runtime/debug.ReadBuildInfo): "ringriftd v1.2.0 (rev 0123abcd,
// modified)"; "(devel)" and "unknown" where the build does not say.
func version() string {
	v, rev, modified := "unknown", "unknown", false
	if bi, ok := debug.ReadBuildInfo(); ok {
		v = bi.Main.Version
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	out := fmt.Sprintf("ringriftd %s (rev %s", v, rev)
	if modified {
		out += ", modified"
	}
	return out + ")"
}

func newLogger(level string, w io.Writer) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

// serve runs the daemon until ctx ends: open the journal, listen, catch up,
// register the handlers, serve; then shut down gracefully — stop accepting,
// finish in-flight requests, close the handlers, write the checkpoint and
// close the journal. listening, when set, receives the bound address.
func serve(ctx context.Context, cfg Config, log *slog.Logger, listening func(addr string), handlers ...Handler) error {
	// Bind first: a daemon whose port is taken must not leave a new, empty
	// journal directory behind.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	warnInsecure(cfg, log)
	m := newMetrics()
	d, err := openDaemon(cfg, log, m)
	if err != nil {
		return errors.Join(err, ln.Close())
	}
	m.reg.MustRegister(newSubscriptionCollector(d.subscriptionStats), deadLetterCollector{d}, indexLagGauge(d.j))
	m.reg.MustRegister(newFlowCollector(d)) // flowmetrics.go
	srv := &http.Server{
		Handler:           d.routes(),
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	srv.RegisterOnShutdown(func() { close(d.stopping) }) // ends the streams
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("ringriftd listening", "addr", "http://"+ln.Addr().String(), "journal", cfg.DataDir,
		"policies", cfg.Policies.String(), "enforce", cfg.Enforcement.String(), "auth", cfg.Token != "")
	if listening != nil {
		listening(ln.Addr().String())
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	err = d.catchUp(runCtx)
	if err == nil {
		err = d.clusterStart(runCtx)
	}
	if err == nil {
		err = d.register(append([]Handler{&checkpointer{d: d, last: time.Now()}}, handlers...)...)
	}
	if err == nil {
		select {
		case <-ctx.Done():
		case err = <-served:
			err = fmt.Errorf("http server: %w", err)
		}
	}
	log.Info("ringriftd shutting down")
	shutCtx, shutCancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer shutCancel()
	if serr := srv.Shutdown(shutCtx); serr != nil {
		_ = srv.Close()
	}
	cancel()
	err = errors.Join(err, d.close())
	log.Info("ringriftd stopped", "last_seq", d.j.Durable())
	return err
}
