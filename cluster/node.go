package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Defaults of a Config.
const (
	DefaultStream   = "RINGRIFT_JOURNAL"
	DefaultReplicas = 3
	// clusterName names the NATS cluster the embedded servers form.
	clusterName = "ringrift"
	// routeUser is the route user name when a token protects the routes.
	routeUser = "ringrift"
	// routeTLSTimeout bounds a route's TLS handshake (NATS's default, 2 s,
	// is short for a loaded host).
	routeTLSTimeout = 5 * time.Second
)

// Config configures a Node. Flags live in cmd/ringriftd.
type Config struct {
	// Name is this node's name, unique in the cluster (the embedded
	// server's name).
	Name string
	// DataDir is the node's data directory; the embedded server's store
	// is DataDir/nats.
	DataDir string
	// Listen is the embedded server's route address (host:port); Peers
	// every node's route address (this node's may be included). Both
	// empty: a lone server (Replicas must then be 1).
	Listen string
	Peers  []string
	// ClientListen is the embedded server's client address, for nats
	// tools; default 127.0.0.1 on a chosen port.
	ClientListen string
	// URL connects to an existing NATS cluster instead of embedding a
	// server (then Listen, Peers and ClientListen are unused).
	URL string
	// Replicas of the stream (default 3).
	Replicas int
	// SyncAlways makes the embedded server fsync every write before it
	// acknowledges (sync_interval: always).
	SyncAlways bool
	// Token, when set, is required on routes (user "ringrift", the token
	// as password) and on the client port (the daemon's --token). Routes
	// off loopback need it, always; a client port off loopback needs it
	// unless Insecure (the daemon's --insecure, which covers its client
	// ports only).
	Token    string
	Insecure bool
	// TLSCert, TLSKey and TLSCA (PEM files; all three or none) put the
	// routes under TLS: this node presents TLSCert and accepts only peers
	// whose certificate TLSCA signed, both ways (each route's certificate
	// must name the host its peers dial, as a DNS or IP SAN).
	TLSCert, TLSKey, TLSCA string
	// Stream is the stream's name (default RINGRIFT_JOURNAL); the rejected
	// log's stream is named after it (RINGRIFT_REJECTED).
	Stream string
	// RejectedMax bounds the rejected stream (default 1,000,000 entries).
	RejectedMax int
	// MaxStore bounds the embedded server's JetStream file storage
	// (default 1 TiB: a journal keeps everything).
	MaxStore int64
	// StartTimeout bounds the wait for the peers and the stream (default
	// 60 s).
	StartTimeout time.Duration
	Logger       *slog.Logger
}

// bad is a Config error naming its flag.
func bad(flag, format string, args ...any) error {
	return fmt.Errorf("%w: --%s: %s", ErrConfig, flag, fmt.Sprintf(format, args...))
}

// Validate reports a field that cannot work, naming its flag.
func (c *Config) Validate() error {
	if c.Name == "" || strings.ContainsAny(c.Name, " .*>\t\n") {
		return bad("cluster", "%q: want a node name without spaces, dots, * or >", c.Name)
	}
	if c.Replicas < 0 || c.Replicas > 5 {
		return bad("replicas", "%d: want 1 to 5", c.Replicas)
	}
	if err := c.validateTLS(); err != nil {
		return err
	}
	if c.URL != "" {
		if c.Listen != "" || len(c.Peers) > 0 {
			return bad("nats-url", "with an existing NATS cluster, leave out --cluster-listen and --cluster-peers")
		}
		return nil
	}
	if c.Listen == "" && len(c.Peers) > 0 {
		return bad("cluster-listen", "empty; want this node's route address host:port, one of --cluster-peers")
	}
	for _, a := range append([]string{c.Listen, c.ClientListen}, c.Peers...) {
		if a == "" {
			continue
		}
		host, port, err := net.SplitHostPort(a)
		if _, perr := strconv.ParseUint(port, 10, 16); err != nil || perr != nil {
			return bad("cluster-peers", "%q: want host:port", a)
		}
		if !isLoopback(host) && c.Token == "" && (!c.Insecure || a != c.ClientListen) {
			return bad("token", "%s is off loopback: set --token, which routes and the NATS client port then require (--insecure does not cover routes)", a)
		}
	}
	replicas := c.Replicas
	if replicas == 0 {
		replicas = DefaultReplicas
	}
	if c.Listen == "" && replicas != 1 {
		return bad("replicas", "%d without --cluster-listen/--cluster-peers: a lone server holds one replica; want --replicas 1", replicas)
	}
	if n := len(c.peerRoutes()) + 1; c.Listen != "" && n < replicas {
		return bad("cluster-peers", "%d nodes for %d replicas: list every node's route address", n, replicas)
	}
	return nil
}

// tlsFlags are the route TLS flags, in the order they are reported.
var tlsFlags = [3]string{"cluster-tls-cert", "cluster-tls-key", "cluster-tls-ca"}

// validateTLS refuses half-set route TLS, TLS without routes of this node,
// and files that do not load.
func (c *Config) validateTLS() error {
	vals := [3]string{c.TLSCert, c.TLSKey, c.TLSCA}
	if vals == [3]string{} {
		return nil
	}
	if c.URL != "" {
		return bad("nats-url", "with an existing NATS cluster its routes are not this node's: leave out --cluster-tls-cert, --cluster-tls-key and --cluster-tls-ca")
	}
	for i, v := range vals {
		if v == "" {
			return bad(tlsFlags[i], "empty; route TLS needs --cluster-tls-cert, --cluster-tls-key and --cluster-tls-ca together")
		}
	}
	if c.Listen == "" {
		return bad("cluster-listen", "empty; --cluster-tls-* secure the routes: set --cluster-listen and --cluster-peers")
	}
	_, err := c.routeTLS()
	return err
}

// routeTLS is the routes' TLS: this node's certificate, peers verified
// against the CA both when they dial in and when this node dials out.
func (c *Config) routeTLS() (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
	if err != nil {
		return nil, bad("cluster-tls-cert", "%s with --cluster-tls-key %s: %v; want a PEM certificate and its PEM private key", c.TLSCert, c.TLSKey, err)
	}
	ca, err := os.ReadFile(c.TLSCA)
	if err != nil {
		return nil, bad("cluster-tls-ca", "%v; want the PEM file of the CA that signed every node's route certificate", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, bad("cluster-tls-ca", "%s holds no PEM certificate; want the CA that signed every node's route certificate", c.TLSCA)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool, RootCAs: pool}, nil
}

func (c *Config) fill() {
	if c.Replicas == 0 {
		c.Replicas = DefaultReplicas
	}
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if c.ClientListen == "" {
		c.ClientListen = "127.0.0.1:-1"
	}
	if c.RejectedMax <= 0 {
		c.RejectedMax = DefaultRejectedMax
	}
	if c.MaxStore == 0 {
		c.MaxStore = 1 << 40
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = 60 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// peerRoutes are the peers other than this node.
func (c *Config) peerRoutes() []string {
	var out []string
	for _, p := range c.Peers {
		if p = strings.TrimSpace(p); p != "" && p != c.Listen {
			out = append(out, p)
		}
	}
	return out
}

// Node is this process's member of the cluster: the embedded NATS server (or
// a connection to an existing cluster) and the stream.
type Node struct {
	cfg    Config
	log    *slog.Logger
	srv    *server.Server // nil with Config.URL
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream

	leaderChanges atomic.Uint64
	leader        atomic.Pointer[string]
	// stale is set while the stream cannot be reached (no quorum).
	stale   atomic.Bool
	lastSeq atomic.Uint64 // the stream's last seq as last seen
}

// Start starts the embedded server (or connects), waits for the JetStream
// meta leader and creates (or finds) the stream. It retries until
// Config.StartTimeout or ctx ends.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.fill()
	n := &Node{cfg: cfg, log: cfg.Logger.With("component", "cluster", "node", cfg.Name)}
	url := cfg.URL
	if url == "" {
		if err := n.startServer(); err != nil {
			return nil, err
		}
	}
	opts := []nats.Option{nats.Name("ringriftd " + cfg.Name), nats.MaxReconnects(-1),
		nats.ReconnectWait(100 * time.Millisecond), nats.RetryOnFailedConnect(true)}
	if cfg.Token != "" {
		opts = append(opts, nats.Token(cfg.Token))
	}
	if n.srv != nil {
		// Over loopback TCP: measured faster than nats.InProcessServer
		// (whose pipe is synchronous) for synchronous publishes.
		url = n.srv.ClientURL()
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		n.Close()
		return nil, fmt.Errorf("%w: connect to %s: %w", ErrStart, url, err)
	}
	n.nc = nc
	if n.js, err = jetstream.New(nc); err != nil {
		n.Close()
		return nil, fmt.Errorf("%w: %w", ErrStart, err)
	}
	sctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()
	if err := n.ensureStream(sctx); err != nil {
		n.Close()
		return nil, err
	}
	n.log.Info("cluster node up", "stream", cfg.Stream, "replicas", cfg.Replicas, "client_url", url, "routes", cfg.Peers)
	return n, nil
}

func (n *Node) startServer() error {
	c := &n.cfg
	host, port, err := splitListen(c.ClientListen)
	if err != nil {
		return fmt.Errorf("%w: --nats-listen %q: %w", ErrConfig, c.ClientListen, err)
	}
	o := &server.Options{
		ServerName:         c.Name,
		Host:               host,
		Port:               port,
		NoSigs:             true,
		JetStream:          true,
		StoreDir:           filepath.Join(c.DataDir, "nats"),
		JetStreamMaxMemory: 64 << 20,
		JetStreamMaxStore:  c.MaxStore,
		SyncAlways:         c.SyncAlways,
		Authorization:      c.Token,
	}
	if c.Listen != "" {
		rhost, rport, err := splitListen(c.Listen)
		if err != nil {
			return fmt.Errorf("%w: --cluster-listen %q: %w", ErrConfig, c.Listen, err)
		}
		o.Cluster = server.ClusterOpts{Name: clusterName, Host: rhost, Port: rport}
		if c.TLSCert != "" {
			if o.Cluster.TLSConfig, err = c.routeTLS(); err != nil {
				return err
			}
			o.Cluster.TLSTimeout = routeTLSTimeout.Seconds()
		}
		userinfo := ""
		if c.Token != "" {
			o.Cluster.Username, o.Cluster.Password = routeUser, c.Token
			userinfo = url.UserPassword(routeUser, c.Token).String() + "@"
		}
		for _, p := range c.peerRoutes() {
			u, err := url.Parse("nats-route://" + userinfo + p)
			if err != nil {
				return fmt.Errorf("%w: --cluster-peers %q: %w", ErrConfig, p, err)
			}
			o.Routes = append(o.Routes, u)
		}
	}
	srv, err := server.NewServer(o)
	if err != nil {
		return fmt.Errorf("%w: embedded NATS server: %w", ErrStart, err)
	}
	srv.SetLoggerV2(natsLogger{n.log}, false, false, false)
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return fmt.Errorf("%w: the embedded NATS server did not start (ports %s, %s taken?)", ErrStart, c.ClientListen, c.Listen)
	}
	n.srv = srv
	return nil
}

func splitListen(a string) (string, int, error) {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return "", 0, err
	}
	p, err := strconv.Atoi(port)
	return host, p, err
}

// ensureStream creates the stream, or finds it, retrying until the
// JetStream meta leader exists and enough peers joined.
func (n *Node) ensureStream(ctx context.Context) error {
	cfg := jetstream.StreamConfig{
		Name:               n.cfg.Stream,
		Description:        "ringriftd journal: the log of record (cluster.md)",
		Subjects:           []string{SubjectPrefix + ">"},
		Storage:            jetstream.FileStorage,
		Replicas:           n.cfg.Replicas,
		Retention:          jetstream.LimitsPolicy,
		Discard:            jetstream.DiscardNew,
		MaxMsgs:            -1,
		MaxBytes:           -1,
		MaxAge:             0,
		Duplicates:         2 * time.Minute,
		DenyDelete:         true,
		DenyPurge:          true,
		AllowAtomicPublish: true,
		AllowDirect:        true,
	}
	var last error
	// A request sent before this server found the meta and stream leaders
	// goes unanswered: the first attempts are short, so that a restarted
	// node is up about a second after the leaders are found (each attempt
	// took 5 s, and one sent just before the election ended was lost). A
	// cluster too slow to answer in a second gets 5 s per attempt after
	// ten.
	for attempt := 1; ; attempt++ {
		wait := time.Second
		if attempt > 10 {
			wait = 5 * time.Second
		}
		actx, cancel := context.WithTimeout(ctx, wait)
		s, err := n.js.CreateOrUpdateStream(actx, cfg)
		if err == nil {
			err = n.ensureRejectedStream(actx)
		}
		cancel()
		if err == nil {
			n.stream = s
			info := s.CachedInfo()
			n.lastSeq.Store(info.State.LastSeq)
			if info.Cluster != nil {
				n.setLeader(info.Cluster.Leader)
			}
			return nil
		}
		if last == nil || last.Error() != err.Error() {
			n.log.Info("waiting for the JetStream cluster to create the stream", "err", err)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: stream %s not created (are %d of the peers %v up?): %w", ErrStart, n.cfg.Stream, n.cfg.Replicas/2+1, n.cfg.Peers, last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (n *Node) setLeader(name string) {
	old := n.leader.Load()
	if old != nil && *old == name {
		return
	}
	if old != nil && name != "" {
		n.leaderChanges.Add(1)
	}
	n.leader.Store(&name)
}

// Name is this node's name.
func (n *Node) Name() string { return n.cfg.Name }

// ClientURL is the NATS client URL of the embedded server ("" with
// Config.URL).
func (n *Node) ClientURL() string {
	if n.srv == nil {
		return n.cfg.URL
	}
	return n.srv.ClientURL()
}

// Close closes the connection and shuts the embedded server down
// (a clean shutdown: a stream leader here hands leadership over).
func (n *Node) Close() {
	if n.nc != nil {
		n.nc.Close()
	}
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// errNoQuorum reports whether err says no stream leader answered.
func errNoQuorum(err error) bool {
	return errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse) ||
		errors.Is(err, jetstream.ErrStreamNotFound)
}

// natsLogger sends the embedded server's logs to slog (notices at debug:
// a server is chatty).
type natsLogger struct{ l *slog.Logger }

func (g natsLogger) Noticef(f string, a ...any) { g.l.Debug(fmt.Sprintf(f, a...), "component", "nats") }
func (g natsLogger) Warnf(f string, a ...any)   { g.l.Info(fmt.Sprintf(f, a...), "component", "nats") }
func (g natsLogger) Fatalf(f string, a ...any)  { g.l.Error(fmt.Sprintf(f, a...), "component", "nats") }
func (g natsLogger) Errorf(f string, a ...any)  { g.l.Info(fmt.Sprintf(f, a...), "component", "nats") }
func (g natsLogger) Debugf(f string, a ...any)  { g.l.Debug(fmt.Sprintf(f, a...), "component", "nats") }
func (g natsLogger) Tracef(f string, a ...any)  {}
