package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

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
	Dedup       time.Duration
	MaxBody     int64
	MaxPayload  int
	MaxBatch    int
	// ReadHeaderTimeout, ReadTimeout and IdleTimeout bound slow clients.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	IdleTimeout       time.Duration
	// Heartbeat is the SSE comment interval.
	Heartbeat time.Duration
	// CheckpointEvery is how often the engine state is checkpointed (and at
	// shutdown).
	CheckpointEvery time.Duration
	Trace           bool
	LogLevel        string
	// Thresholds are the policies' thresholds: flows.DefaultThresholds
	// with what --thresholds FILE (YAML) overrides.
	Thresholds flows.Thresholds
	// Cluster is cluster mode (cluster.go); off without --cluster.
	Cluster ClusterConfig
}

// envName is a flag's environment twin: --data-dir → RINGRIFT_DATA_DIR.
func envName(flagName string) string {
	return "RINGRIFT_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// flagSet defines the daemon's flags on fs, with defaults from getenv.
// Parse errors of environment values are returned by the returned func
// after fs.Parse, naming the variable.
func (c *Config) flagSet(fs *flag.FlagSet, getenv func(string) string) func() error {
	var envErrs []error
	str := func(p *string, name, def, usage string) {
		if v := getenv(envName(name)); v != "" {
			def = v
		}
		fs.StringVar(p, name, def, usage+" (env "+envName(name)+")")
	}
	boolean := func(p *bool, name string, usage string) {
		def := false
		if v := getenv(envName(name)); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				envErrs = append(envErrs, fmt.Errorf("%w: %s=%q: want true or false", errConfig, envName(name), v))
			}
			def = b
		}
		fs.BoolVar(p, name, def, usage+" (env "+envName(name)+")")
	}
	dur := func(p *time.Duration, name string, def time.Duration, usage string) {
		if v := getenv(envName(name)); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				envErrs = append(envErrs, fmt.Errorf("%w: %s=%q: want a duration such as 30s", errConfig, envName(name), v))
			}
			def = d
		}
		fs.DurationVar(p, name, def, usage+" (env "+envName(name)+")")
	}
	integer := func(set func(int64), name string, def int64, usage string) {
		if v := getenv(envName(name)); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				envErrs = append(envErrs, fmt.Errorf("%w: %s=%q: want an integer", errConfig, envName(name), v))
			}
			def = n
		}
		set(def)
		fs.Func(name, fmt.Sprintf("%s (default %d, env %s)", usage, def, envName(name)), func(s string) error {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return fmt.Errorf("want an integer, got %q", s)
			}
			set(n)
			return nil
		})
	}
	str(&c.DataDir, "data-dir", "./ringrift-data", "journal directory (Pebble)")
	str(&c.Listen, "listen", "127.0.0.1:8765", "HTTP address; off loopback a --token (or --insecure) is required")
	// The token's environment twin is read after parsing (finish), so that
	// --help never prints it as a default.
	fs.StringVar(&c.Token, "token", "", "bearer token every /v1 request must carry (never logged) (env "+envName("token")+")")
	boolean(&c.Insecure, "insecure", "allow listening off loopback without a token")
	boolean(&c.PublicRead, "public-read", "with a token, leave the GET endpoints open")
	policies := "all"
	str(&policies, "policies", "all", "policies that decide: all, none or a list such as threshold,promotion")
	enforce := "strict"
	str(&enforce, "enforce", "strict", "flow enforcement: strict (refuse violations) or lenient (journal and count them)")
	dur(&c.Dedup, "dedup", 0, "content-dedup window, 0 = off")
	integer(func(n int64) { c.MaxBody = n }, "max-body", 16<<20, "request body limit in bytes")
	integer(func(n int64) { c.MaxPayload = int(n) }, "max-payload", 64<<10, "event payload limit in bytes (compact JSON)")
	integer(func(n int64) { c.MaxBatch = int(n) }, "max-batch", 10_000, "events per request")
	dur(&c.ReadHeaderTimeout, "read-header-timeout", 10*time.Second, "time to read a request's headers")
	dur(&c.ReadTimeout, "read-timeout", 60*time.Second, "time to read a whole request")
	dur(&c.IdleTimeout, "idle-timeout", 120*time.Second, "keep-alive idle timeout")
	dur(&c.Heartbeat, "heartbeat", 15*time.Second, "SSE heartbeat interval")
	dur(&c.CheckpointEvery, "checkpoint-every", time.Minute, "how often the engine state is checkpointed")
	trace := getenv("RINGRIFT_EVENT_TRACE") == "1"
	fs.BoolVar(&c.Trace, "trace", trace, "log every append and delivery (env RINGRIFT_EVENT_TRACE=1)")
	str(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	var thresholds string
	str(&thresholds, "thresholds", "", "YAML file overriding the policies' thresholds (keys of flows.Thresholds, e.g. elo_gain: 30)")
	finishCluster := c.clusterFlags(str, integer)
	return func() error {
		if err := errors.Join(envErrs...); err != nil {
			return err
		}
		if err := finishCluster(); err != nil {
			return err
		}
		if c.Token == "" {
			c.Token = getenv(envName("token"))
		}
		var err error
		if c.Thresholds, err = loadThresholds(thresholds); err != nil {
			return err
		}
		if c.Policies, err = flows.ParsePolicies(policies); err != nil {
			return fmt.Errorf("%w: --policies: %w", errConfig, err)
		}
		if c.Enforcement, err = flows.ParseEnforcement(enforce); err != nil {
			return fmt.Errorf("%w: --enforce: %q; want strict or lenient", errConfig, enforce)
		}
		return nil
	}
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
		return bad("dedup", "%v: want 0 (off) or a positive duration", c.Dedup)
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
