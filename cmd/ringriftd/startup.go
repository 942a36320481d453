package main

import (
	"log/slog"
	"net"
)

// warnInsecure logs that a daemon off loopback with --insecure takes
// requests from anyone.
func warnInsecure(cfg Config, log *slog.Logger) {
	host, _, _ := net.SplitHostPort(cfg.Listen)
	if cfg.Insecure && cfg.Token == "" && !isLoopback(host) {
		log.Warn("listening off loopback without a token (--insecure): anyone who reaches "+cfg.Listen+" can append events and read the journal",
			"listen", cfg.Listen)
	}
}
