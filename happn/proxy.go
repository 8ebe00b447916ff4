package happn

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// The address of a client: the socket peer's, unless the peer is one of
// Config.TrustedProxies. Then X-Forwarded-For is read from the right (the
// entries the proxies appended) and the first entry that is not itself a
// trusted proxy is the client. Entries left of it were written by the
// client or by proxies nobody vouches for, and are never used. HTTP logins
// and websocket sessions both take their address from here, so a
// sourceIPWhitelist works behind a configured proxy and cannot be passed by
// a client that writes the header itself.

// trustedProxies is Config.TrustedProxies parsed; empty trusts no proxy.
type trustedProxies []netip.Prefix

// parseTrustedProxies parses IP addresses and CIDR ranges.
func parseTrustedProxies(list []string) (trustedProxies, error) {
	var out trustedProxies
	for _, entry := range list {
		e := strings.TrimSpace(entry)
		if strings.Contains(e, "/") {
			p, err := netip.ParsePrefix(e)
			if err != nil {
				return nil, fmt.Errorf("trustedProxies: %q is not an IP address or a CIDR range", entry)
			}
			if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
				p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(e)
		if err != nil {
			return nil, fmt.Errorf("trustedProxies: %q is not an IP address or a CIDR range", entry)
		}
		a = a.Unmap().WithZone("")
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// contains reports whether a is a trusted proxy.
func (p trustedProxies) contains(a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	for _, pr := range p {
		if pr.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddr returns the address and port of the client of r (port 0 when
// a proxy did not say which). With no trusted proxies, or a peer that is
// not one, it is the socket peer and X-Forwarded-For is ignored.
func (p trustedProxies) clientAddr(r *http.Request) (string, int) {
	host, portText, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return "", 0
	}
	port, _ := strconv.Atoi(portText)
	if len(p) == 0 {
		return host, port
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !p.contains(peer) {
		return host, port
	}
	// the nearest hop known so far: the peer, then each trusted proxy
	// the header names
	client, clientPort := host, port
	lines := r.Header.Values("X-Forwarded-For")
	for i := len(lines) - 1; i >= 0; i-- {
		entries := strings.Split(lines[i], ",")
		for j := len(entries) - 1; j >= 0; j-- {
			e := strings.TrimSpace(entries[j])
			if e == "" {
				continue
			}
			a, aport, ok := parseForwarded(e)
			if !ok {
				// not an address ("unknown", junk): the trusted hop that
				// passed it on is the last one that can be believed
				return client, clientPort
			}
			if !p.contains(a) {
				return a.String(), aport
			}
			client, clientPort = a.String(), aport
		}
	}
	return client, clientPort
}

// parseForwarded reads one X-Forwarded-For entry: an address, with or
// without a port ("10.0.0.1", "10.0.0.1:443", "[2001:db8::1]:443").
func parseForwarded(e string) (netip.Addr, int, bool) {
	if a, err := netip.ParseAddr(e); err == nil {
		return a.Unmap().WithZone(""), 0, true
	}
	if ap, err := netip.ParseAddrPort(e); err == nil {
		return ap.Addr().Unmap().WithZone(""), int(ap.Port()), true
	}
	return netip.Addr{}, 0, false
}
