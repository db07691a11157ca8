package config

import (
	"net"
	"strings"
)

// IsLoopbackHost reports whether host (a URL's Hostname(), without port or brackets) is "localhost" or a
// loopback IP: the only hosts a target may reach over plain http:// (a local simulator or proxy). The
// config validator and the connectors that check a URL they are given directly use this one rule.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
