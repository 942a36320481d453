package flows_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ringrift/ringriftd/flows"
)

// TestClusterStatus: the cluster status of flows.md with the default
// percentages, which the cluster policy and the health projection share.
func TestClusterStatus(t *testing.T) {
	cases := []struct {
		known, failing int
		want           string
	}{
		{0, 0, "healthy"},
		{10, 0, "healthy"},
		{10, 1, "healthy"},
		{10, 2, "degraded"}, // 200 < 200 is false
		{10, 3, "degraded"},
		{10, 4, "critical"}, // 400 < 400 is false
		{5, 1, "degraded"},
		{3, 1, "degraded"},
		{2, 1, "critical"},
		{1, 1, "critical"},
	}
	th := flows.DefaultThresholds() // 20 % degraded, 40 % critical
	for _, c := range cases {
		assert.Equal(t, c.want, flows.ClusterStatus(c.known, c.failing, th.ClusterDegraded, th.ClusterCritical), "%d of %d", c.failing, c.known)
	}
}
