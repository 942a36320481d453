package journal

// Filled returns o with its zero fields set to the defaults (5 attempts,
// 100 ms doubling to 30 s, …): other runners of a subscription — cluster
// mode's shared subscriptions — take the same defaults from here.
func (o SubscribeOptions) Filled() SubscribeOptions {
	o.fill()
	return o
}
