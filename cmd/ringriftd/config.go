package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ringrift/ringriftd/cluster"
	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
)

// errConfig is wrapped by every configuration error; main exits 2 on it.
var errConfig = errors.New("config")

// Config is the daemon's configuration: flags with environment twins
// (--data-dir / RINGRIFT_DATA_DIR …), validated at start.
type Config struct {
	DataDir     string
	Listen      string
	Token       string
	Insecure    bool
	PublicRead  bool
	Policies    flows.PolicySet
	Enforcement flows.Enforcement
	// Dedup is the content-dedup window (--dedup-window), 0 = off.
	Dedup      time.Duration
	MaxBody    int64
	MaxPayload int
	MaxBatch   int
	// ReadHeaderTimeout, ReadTimeout and IdleTimeout bound slow clients.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	IdleTimeout       time.Duration
	// Heartbeat is the SSE comment interval.
	Heartbeat time.Duration
	// StreamQueue and StreamWindow size the SSE fan-out (fanout.go): the
	// frames a stream may have waiting before it catches up from the
	// journal, and the recent frames kept for joining streams. 0 is the
	// default (fanQueue, fanWindow); no flag, tests make them small.
	StreamQueue, StreamWindow int
	// CheckpointEvery is how often the engine state is checkpointed (and at
	// shutdown).
	CheckpointEvery time.Duration
	Trace           bool
	LogLevel        string
	// Thresholds are the policies' thresholds: flows.DefaultThresholds
	// with what --thresholds FILE (YAML) overrides.
	Thresholds flows.Thresholds
	// MaxFuture refuses an input time more than this ahead of the daemon's
	// clock (events.md); 0 turns the check off.
	MaxFuture time.Duration
	// Boards are the operator's boards beyond the canonical four
	// (--boards hex12,square25): their configs are accepted everywhere a
	// config key is parsed.
	Boards []string
	// Cluster is cluster mode (cluster.go); off without --cluster.
	Cluster ClusterConfig
}

// DefaultConfig is the configuration of `ringriftd` without flags: the
// defaults every flag starts from.
func DefaultConfig() Config {
	return Config{
		DataDir:           "./ringrift-data",
		Listen:            "127.0.0.1:8765",
		Policies:          flows.AllPolicies,
		Enforcement:       flows.Strict,
		MaxBody:           16 << 20,
		MaxPayload:        64 << 10,
		MaxBatch:          10_000,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		Heartbeat:         15 * time.Second,
		CheckpointEvery:   time.Minute,
		LogLevel:          "info",
		Thresholds:        flows.DefaultThresholds(),
		MaxFuture:         event.DefaultMaxFuture,
		Cluster:           ClusterConfig{Replicas: cluster.DefaultReplicas, MaxLag: 1000},
	}
}

const daemonUsage = `usage: ringriftd [flags]
       ringriftd simulate [flags]
       ringriftd --version

Every flag has an environment twin.

`

// parseConfig reads the daemon's flags over DefaultConfig, with the
// environment twins from getenv. --help prints the usage to help and
// returns flag.ErrHelp.
func parseConfig(args []string, getenv func(string) string, help io.Writer) (Config, error) {
	c := DefaultConfig()
	f := newEnvFlags("ringriftd", daemonUsage, getenv)
	f.argsHint = "; the only command is simulate"
	f.String(&c.DataDir, "data-dir", "journal directory (Pebble)")
	f.String(&c.Listen, "listen", "HTTP address; off loopback a --token (or --insecure) is required")
	f.Secret(&c.Token, "token", "bearer token every /v1 request must carry (never logged)")
	f.Bool(&c.Insecure, "insecure", "allow listening off loopback without a token")
	f.Bool(&c.PublicRead, "public-read", "with a token, leave the GET endpoints open")
	policies, enforce := c.Policies.String(), c.Enforcement.String()
	f.String(&policies, "policies", "policies that decide: all, none or a list such as threshold,promotion")
	f.String(&enforce, "enforce", "flow enforcement: strict (refuse violations) or lenient (journal and count them)")
	f.Duration(&c.Dedup, "dedup", "deprecated: the old name of --dedup-window")
	f.Duration(&c.Dedup, "dedup-window", "content-dedup window, 0 = off (journal.md)")
	f.Int64(&c.MaxBody, "max-body", "request body limit in bytes")
	f.Int(&c.MaxPayload, "max-payload", "event payload limit in bytes (compact JSON)")
	f.Int(&c.MaxBatch, "max-batch", "events per request")
	f.Duration(&c.ReadHeaderTimeout, "read-header-timeout", "time to read a request's headers")
	f.Duration(&c.ReadTimeout, "read-timeout", "time to read a whole request")
	f.Duration(&c.IdleTimeout, "idle-timeout", "keep-alive idle timeout")
	f.Duration(&c.Heartbeat, "heartbeat", "SSE heartbeat interval")
	f.Duration(&c.CheckpointEvery, "checkpoint-every", "how often the engine state is checkpointed")
	f.Duration(&c.MaxFuture, "max-future", "refuse an event time further ahead of this daemon's clock (milliseconds sent as timestamp seconds); 0 = off")
	c.Trace = getenv("RINGRIFT_EVENT_TRACE") == "1"
	f.fs.BoolVar(&c.Trace, "trace", c.Trace, "log every append and delivery (env RINGRIFT_EVENT_TRACE=1)")
	f.String(&c.LogLevel, "log-level", "debug, info, warn or error")
	var thresholds string
	f.String(&thresholds, "thresholds", "YAML file overriding the policies' thresholds (keys of flows.Thresholds, e.g. elo_gain: 30)")
	var boards string
	f.String(&boards, "boards", "extra board names beyond hex8, hexagonal, square8, square19, comma-separated (e.g. hex12): their configs such as hex12_2p are accepted")
	finishCluster := c.clusterFlags(f)
	if err := f.Parse(args, help); err != nil {
		return c, err
	}
	if err := finishCluster(); err != nil {
		return c, err
	}
	var err error
	if c.Boards, err = event.ParseBoards(boards); err != nil {
		return c, fmt.Errorf("%w: --boards: %w", errConfig, err)
	}
	if c.Thresholds, err = loadThresholds(thresholds); err != nil {
		return c, err
	}
	if c.Policies, err = flows.ParsePolicies(policies); err != nil {
		return c, fmt.Errorf("%w: --policies: %w", errConfig, err)
	}
	if c.Enforcement, err = flows.ParseEnforcement(enforce); err != nil {
		return c, fmt.Errorf("%w: --enforce: %q; want strict or lenient", errConfig, enforce)
	}
	return c, nil
}

// loadThresholds returns the default thresholds with the file's values
// over them ("" = none); unknown keys are errors.
func loadThresholds(path string) (flows.Thresholds, error) {
	t := flows.DefaultThresholds()
	if path == "" {
		return t, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return t, fmt.Errorf("%w: --thresholds: %w", errConfig, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&t); err != nil && !errors.Is(err, io.EOF) {
		return t, fmt.Errorf("%w: --thresholds %s: %w", errConfig, path, err)
	}
	if err := t.Validate(); err != nil {
		return t, fmt.Errorf("%w: --thresholds %s: %w", errConfig, path, err)
	}
	return t, nil
}

// Validate checks the configuration; errors name the flag and say what
// would be accepted.
func (c *Config) Validate() error {
	bad := func(flagName, format string, args ...any) error {
		return fmt.Errorf("%w: --%s: %s", errConfig, flagName, fmt.Sprintf(format, args...))
	}
	if c.DataDir == "" {
		return bad("data-dir", "empty; want a directory path")
	}
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return bad("listen", "%q: want host:port, e.g. 127.0.0.1:8765", c.Listen)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return bad("listen", "port %q: want 0–65535", port)
	}
	if !isLoopback(host) && c.Token == "" && !c.Insecure {
		return bad("listen", "%q is not loopback: set --token (RINGRIFT_TOKEN) so requests must authenticate, or --insecure to accept anyone", c.Listen)
	}
	switch {
	case c.Dedup < 0:
		return bad("dedup-window", "%v: want 0 (off) or a positive duration", c.Dedup)
	case c.MaxBody < 1024:
		return bad("max-body", "%d: want at least 1024 bytes", c.MaxBody)
	case c.MaxPayload < 1024 || int64(c.MaxPayload) > c.MaxBody:
		return bad("max-payload", "%d: want 1024 to --max-body (%d)", c.MaxPayload, c.MaxBody)
	case c.MaxBatch < 1 || c.MaxBatch > 10_000:
		return bad("max-batch", "%d: want 1 to 10000", c.MaxBatch)
	case c.ReadHeaderTimeout <= 0:
		return bad("read-header-timeout", "%v: want a positive duration", c.ReadHeaderTimeout)
	case c.ReadTimeout <= 0:
		return bad("read-timeout", "%v: want a positive duration", c.ReadTimeout)
	case c.IdleTimeout <= 0:
		return bad("idle-timeout", "%v: want a positive duration", c.IdleTimeout)
	case c.Heartbeat <= 0:
		return bad("heartbeat", "%v: want a positive duration", c.Heartbeat)
	case c.CheckpointEvery <= 0:
		return bad("checkpoint-every", "%v: want a positive duration", c.CheckpointEvery)
	case c.MaxFuture < 0:
		return bad("max-future", "%v: want 0 (off) or a positive duration", c.MaxFuture)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return bad("log-level", "%q: want debug, info, warn or error", c.LogLevel)
	}
	return c.validateCluster()
}

// isLoopback reports whether host (of host:port) only listens on loopback.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
