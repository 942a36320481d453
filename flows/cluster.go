package flows

// Cluster statuses (flows.md, cluster policy).
const (
	ClusterHealthy  = "healthy"
	ClusterDegraded = "degraded"
	ClusterCritical = "critical"
)

// nodeCount is the number of known nodes and of failing ones among them,
// kept up to date by every accepted recovery-machine event so that the
// cluster status costs nothing to read.
type nodeCount struct{ known, failing int }

// add counts n after an event, given whether it was known and failing
// before it.
func (c *nodeCount) add(wasKnown, wasFailing bool, n *Node) {
	if wasKnown {
		c.known--
	}
	if wasFailing {
		c.failing--
	}
	if n.Known {
		c.known++
		if n.Failing() {
			c.failing++
		}
	}
}

// ClusterStatus is the cluster status of flows.md for known nodes of which
// failing are failing, in exact integer arithmetic with the degraded and
// critical percentages: failing×100 < degraded×known is healthy, <
// critical×known degraded, else critical. With no known node the cluster is
// healthy (see the README's decisions: the rule read literally would say
// critical, and fixtures.md expects healthy).
func ClusterStatus(known, failing, degraded, critical int) string {
	switch {
	case known == 0 || failing*100 < degraded*known:
		return ClusterHealthy
	case failing*100 < critical*known:
		return ClusterDegraded
	}
	return ClusterCritical
}

// NodeCounts returns the known nodes (at least one accepted recovery-machine
// event) and the failing ones among them (unhealthy, recovering, offline or
// escalated).
func (m *Machines) NodeCounts() (known, failing int) { return m.nodeCount.known, m.nodeCount.failing }
