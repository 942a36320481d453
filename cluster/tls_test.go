package cluster_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/cluster"
	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/journal"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string // its PEM certificate
}

var serial int64

// sign makes a fresh key and its certificate from tmpl, signed by ca (nil:
// self-signed), valid from an hour ago for a day.
func sign(t *testing.T, tmpl *x509.Certificate, ca *testCA) ([]byte, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	serial++
	tmpl.SerialNumber, tmpl.NotBefore, tmpl.NotAfter = big.NewInt(serial), time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	parent, parentKey := tmpl, key
	if ca != nil {
		parent, parentKey = ca.cert, ca.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	require.NoError(t, err)
	return der, key
}

func newCA(t *testing.T, dir, name string) *testCA {
	t.Helper()
	der, key := sign(t, &x509.Certificate{Subject: pkix.Name{CommonName: name}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}, nil)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	ca := &testCA{cert: cert, key: key, file: filepath.Join(dir, name+".pem")}
	writePEM(t, ca.file, "CERTIFICATE", der)
	return ca
}

// issue writes a route certificate for 127.0.0.1 signed by ca (serving and
// dialing: routes are both) and its key; it returns their files.
func (ca *testCA) issue(t *testing.T, dir, name string) (certFile, keyFile string) {
	t.Helper()
	der, key := sign(t, &x509.Certificate{Subject: pkix.Name{CommonName: name}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"}}, ca)
	kder, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "EC PRIVATE KEY", kder)
	return certFile, keyFile
}

func writePEM(t *testing.T, file, typ string, der []byte) {
	t.Helper()
	require.NoError(t, os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
}

func loopbackPorts(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	for _, l := range ls {
		l.Close()
	}
	return out
}

// TestRouteTLS: three nodes whose routes run over TLS (certificates of one
// CA) form the cluster and replicate an append; a fourth server presenting
// a certificate of another CA — or none, over plain routes — is not
// admitted, while one with a certificate of the cluster's CA is.
func TestRouteTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a three-node cluster")
	}
	dir := t.TempDir()
	ca, other := newCA(t, dir, "ca"), newCA(t, dir, "other-ca")
	routes := loopbackPorts(t, 6)
	peers := routes[:3] // the cluster; routes[3:] are the newcomers'
	const token = "route-secret"
	cfg := func(i int, certOf *testCA, withTLS bool) cluster.Config {
		c := cluster.Config{Name: fmt.Sprintf("n%d", i+1), DataDir: filepath.Join(dir, fmt.Sprintf("n%d", i+1)),
			Listen: routes[i], Peers: append([]string{routes[i]}, peers...), Replicas: 3, Token: token,
			StartTimeout: 60 * time.Second}
		if withTLS {
			c.TLSCert, c.TLSKey = certOf.issue(t, dir, c.Name)
			c.TLSCA = ca.file
		}
		return c
	}

	nodes := make([]*cluster.Node, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range nodes {
		c := cfg(i, ca, true)
		wg.Add(1)
		go func() { defer wg.Done(); nodes[i], errs[i] = cluster.Start(context.Background(), c) }()
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err)
		t.Cleanup(nodes[i].Close)
	}

	// An append through n1's replica reaches n3's.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var follow sync.WaitGroup
	open := func(n *cluster.Node) *journal.Journal {
		j, err := journal.Open("", journal.Options{InMemory: true, Replica: &journal.ReplicaOptions{Log: n}})
		require.NoError(t, err)
		follow.Add(1)
		go func() { defer follow.Done(); _ = n.Follow(ctx, j) }()
		return j
	}
	j1, j3 := open(nodes[0]), open(nodes[2])
	defer func() {
		cancel()
		follow.Wait()
		require.NoError(t, j1.Close())
		require.NoError(t, j3.Close())
	}()
	id := ulid.Make()
	res, err := j1.Append(ctx, []event.Event{{ID: id, Type: "new_games", ConfigKey: "hex8_2p", Payload: json.RawMessage(`{"games":1}`)}}, journal.AppendOptions{})
	require.NoError(t, err)
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	require.NoError(t, j3.WaitDurable(wctx, res[0].Seq))
	got, err := j3.Get(res[0].Seq)
	require.NoError(t, err)
	assert.Equal(t, id, got.ID)

	// Newcomers: a server that is admitted joins the meta group and finds
	// the stream; one that is not cannot start (no JetStream leader).
	join := func(c cluster.Config, within time.Duration) error {
		c.StartTimeout = within
		n, err := cluster.Start(context.Background(), c)
		if err == nil {
			n.Close()
		}
		return err
	}
	strangers := map[string]cluster.Config{"another CA's certificate": cfg(3, other, true), "no TLS": cfg(4, ca, false)}
	results := map[string]error{}
	var mu sync.Mutex
	for what, c := range strangers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := join(c, 10*time.Second)
			mu.Lock()
			results[what] = err
			mu.Unlock()
		}()
	}
	wg.Wait()
	for what, err := range results {
		require.ErrorIs(t, err, cluster.ErrStart, "a server with %s was admitted", what)
	}
	require.NoError(t, join(cfg(5, ca, true), 30*time.Second), "a server with a certificate of the cluster's CA is admitted")
}

func TestRouteTLSConfigErrorsNameTheFlag(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, dir, "ca")
	cert, key := ca.issue(t, dir, "n1")
	base := cluster.Config{Name: "n1", Listen: "127.0.0.1:6222", Peers: []string{"127.0.0.1:6222", "127.0.0.1:6223", "127.0.0.1:6224"}}
	with := func(f func(*cluster.Config)) cluster.Config { c := base; f(&c); return c }
	tests := []struct {
		cfg  cluster.Config
		flag string // "" = valid
	}{
		{with(func(c *cluster.Config) { c.TLSCert, c.TLSKey, c.TLSCA = cert, key, ca.file }), ""},
		{with(func(c *cluster.Config) { c.TLSCert, c.TLSCA = cert, ca.file }), "--cluster-tls-key"},
		{with(func(c *cluster.Config) { c.TLSKey, c.TLSCA = key, ca.file }), "--cluster-tls-cert"},
		{with(func(c *cluster.Config) { c.TLSCert, c.TLSKey = cert, key }), "--cluster-tls-ca"},
		{with(func(c *cluster.Config) { c.TLSCert, c.TLSKey, c.TLSCA = key, key, ca.file }), "--cluster-tls-cert"},
		{with(func(c *cluster.Config) { c.TLSCert, c.TLSKey, c.TLSCA = cert, key, key }), "--cluster-tls-ca"},
		{with(func(c *cluster.Config) { c.TLSCert, c.TLSKey, c.TLSCA = cert, key, filepath.Join(dir, "none.pem") }), "--cluster-tls-ca"},
		{cluster.Config{Name: "n1", Replicas: 1, TLSCert: cert, TLSKey: key, TLSCA: ca.file}, "--cluster-listen"},
		{cluster.Config{Name: "n1", URL: "nats://x:4222", TLSCert: cert, TLSKey: key, TLSCA: ca.file}, "--nats-url"},
		// Routes off loopback need the token, --insecure or not.
		{cluster.Config{Name: "n1", Listen: "10.0.0.1:6222", Peers: []string{"10.0.0.2:6222", "10.0.0.3:6222"}, Insecure: true}, "--token"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if tt.flag == "" {
			assert.NoError(t, err, "%+v", tt.cfg)
			continue
		}
		require.ErrorIs(t, err, cluster.ErrConfig, "%+v", tt.cfg)
		assert.Contains(t, err.Error(), tt.flag, "%+v", tt.cfg)
	}
}
