package flows

// SetEnforcement switches the enforcement mode. Replay uses it to fold a
// journaled event that strict mode would refuse (it was journaled in lenient
// mode) as the violation it was.
func (m *Machines) SetEnforcement(e Enforcement) { m.enforcement = e }
