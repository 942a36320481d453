package main

import (
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestClusterTLSFlags: the route TLS flags (and their environment twins)
// are cluster mode's, and go together; each error names the flag.
// cluster's TestRouteTLS runs a cluster with them.
func TestClusterTLSFlags(t *testing.T) {
	routes := []string{"--cluster", "n1", "--cluster-listen", "127.0.0.1:6222", "--cluster-peers", "127.0.0.1:6222,127.0.0.1:6223,127.0.0.1:6224"}
	tests := []struct {
		args []string
		env  map[string]string
		want string // "" = valid
	}{
		{routes, nil, ""},
		{[]string{"--cluster-tls-cert", "n1.crt"}, nil, "--cluster"},
		{[]string{"--cluster-tls-ca", "ca.pem"}, nil, "--cluster"},
		{nil, map[string]string{"RINGRIFT_CLUSTER_TLS_KEY": "n1.key"}, "--cluster"},
		{append(routes, "--cluster-tls-cert", "n1.crt", "--cluster-tls-ca", "ca.pem"), nil, "--cluster-tls-key"},
		{append(routes, "--cluster-tls-key", "n1.key", "--cluster-tls-ca", "ca.pem"), nil, "--cluster-tls-cert"},
		{routes, map[string]string{"RINGRIFT_CLUSTER_TLS_CERT": "n1.crt", "RINGRIFT_CLUSTER_TLS_KEY": "n1.key"}, "--cluster-tls-ca"},
		{append(routes, "--cluster-tls-cert", "missing.crt", "--cluster-tls-key", "missing.key", "--cluster-tls-ca", "ca.pem"), nil, "--cluster-tls-cert"},
		{[]string{"--cluster", "n1", "--nats-url", "nats://x:4222", "--cluster-tls-cert", "a", "--cluster-tls-key", "b", "--cluster-tls-ca", "c"}, nil, "--nats-url"},
		{[]string{"--cluster", "n1", "--cluster-listen", "10.1.1.1:6222", "--cluster-peers", "10.1.1.1:6222,10.1.1.2:6222,10.1.1.3:6222", "--insecure"}, nil, "--token"},
	}
	for _, tt := range tests {
		cfg, err := parseConfig(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
		if err == nil {
			err = cfg.Validate()
		}
		if tt.want == "" {
			assert.NoError(t, err, "%v %v", tt.args, tt.env)
			continue
		}
		require.ErrorIs(t, err, errConfig, "%v %v", tt.args, tt.env)
		assert.Contains(t, err.Error(), tt.want, "%v %v", tt.args, tt.env)
	}
}
