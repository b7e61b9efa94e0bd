package gateway

import (
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/latchkey/latchkey/config"
)

// This file finds a request's client address (server.trusted_proxies).
//
// The TCP peer is the client unless it lies in a trusted network. When it
// does, the client is found in X-Forwarded-For (every header line, each a
// comma list) or, without it, in the for= parameters of Forwarded (RFC
// 7239): the hops are walked from the right, skipping those in trusted
// networks, and the first hop outside them is the client. A hop that is not
// an IP address (garbage, "unknown", an obfuscated "_name", an element
// without for=) ends the walk at the last trusted hop, or at the peer. When
// a request carries both headers and they name different clients, neither
// is believed and the client is the peer.
//
// logRequests computes the address once per request and sets r.RemoteAddr
// to it on the request copy it already makes, before anything else reads
// it: the sign-in limits, the audit log, the request log and the echo
// upstream all read r.RemoteAddr. A peer's address keeps its port
// ("192.0.2.1:1234"); an address taken from a header has none
// ("203.0.113.9", "2001:db8::9").

// trustedProxies are the networks of server.trusted_proxies.
type trustedProxies []netip.Prefix

// newTrustedProxies parses server.trusted_proxies.
func newTrustedProxies(entries []string) (trustedProxies, error) {
	var t trustedProxies
	for _, e := range entries {
		p, err := config.ParseTrustedProxy(e)
		if err != nil {
			return nil, err
		}
		t = append(t, p)
	}
	return t, nil
}

func (t trustedProxies) contains(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientHop is the result of walking the forwarded hops: the client's
// address, and its position among the hops from the left.
type clientHop struct {
	addr  netip.Addr
	index int
	found bool // false: no hop names the client; it is the last trusted hop (the peer)
}

// walkHops walks hops, given in order from the left, as the rule above
// says, in one pass and without allocating: it keeps the answer the walk
// from the right gives for the hops seen so far. That answer is either one
// hop (found) or "the hop to the right of these" (not found), which is the
// next trusted hop or, at the end, the peer.
type walkHops struct {
	t      trustedProxies
	n      int       // hops seen
	client clientHop // the answer for them
}

// add takes the next hop to the right; ok false means it is not an address.
func (w *walkHops) add(a netip.Addr, ok bool) {
	i := w.n
	w.n++
	switch {
	case !ok:
		w.client = clientHop{}
	case !w.t.contains(a):
		w.client = clientHop{addr: a.Unmap(), index: i, found: true}
	case !w.client.found:
		w.client = clientHop{addr: a.Unmap(), index: i, found: true}
	}
}

// walk walks the hops of the header lines of X-Forwarded-For (forwarded
// false) or Forwarded (true).
func (t trustedProxies) walk(lines []string, forwarded bool) clientHop {
	w := walkHops{t: t}
	for _, line := range lines {
		for line != "" {
			var hop string
			if forwarded {
				hop, line = nextForwardedElement(line)
				if strings.TrimSpace(hop) != "" {
					w.add(parseForwardedFor(hop))
				}
				continue
			}
			hop, line, _ = strings.Cut(line, ",")
			hop = strings.TrimSpace(hop)
			if hop == "" { // an empty list element, which RFC 9110 ignores
				continue
			}
			a, ok := parseNode(hop, false)
			w.add(a, ok)
		}
	}
	return w.client
}

// clientAddress returns the address of the client of a request from peer
// (its RemoteAddr) with header h: peer itself when no header names the
// client; otherwise also the hop that does and whether it is in
// X-Forwarded-For (else Forwarded).
func (t trustedProxies) clientAddress(peer string, h http.Header) (string, clientHop, bool) {
	if len(t) == 0 {
		return peer, clientHop{}, false
	}
	pa, err := netip.ParseAddrPort(peer)
	if err != nil || !t.contains(pa.Addr()) {
		return peer, clientHop{}, false
	}
	xff, fwd := h.Values("X-Forwarded-For"), h.Values("Forwarded")
	var c clientHop
	switch {
	case len(xff) > 0:
		c = t.walk(xff, false)
		if f := t.walk(fwd, true); len(fwd) > 0 && (f.found != c.found || f.addr != c.addr) {
			return peer, clientHop{}, false
		}
	case len(fwd) > 0:
		c = t.walk(fwd, true)
	}
	if !c.found {
		return peer, clientHop{}, false
	}
	return c.addr.String(), c, len(xff) > 0
}

// trustedChain is the X-Forwarded-For the reverse proxy sends when the
// client came from a header: the client, the trusted hops to its right and
// the peer, with the hops the client wrote itself left out.
func trustedChain(h http.Header, c clientHop, fromXFF bool, peer string) string {
	var b strings.Builder
	i := 0
	add := func(a netip.Addr, ok bool) {
		if i >= c.index && ok {
			if b.Len() > 0 {
				b.WriteString(", ")
			}
			b.WriteString(a.Unmap().String())
		}
		i++
	}
	if fromXFF {
		for _, line := range h.Values("X-Forwarded-For") {
			for _, hop := range strings.Split(line, ",") {
				if hop = strings.TrimSpace(hop); hop != "" {
					add(parseNode(hop, false))
				}
			}
		}
	} else {
		for _, line := range h.Values("Forwarded") {
			for line != "" {
				var hop string
				hop, line = nextForwardedElement(line)
				if strings.TrimSpace(hop) != "" {
					add(parseForwardedFor(hop))
				}
			}
		}
	}
	if pa, err := netip.ParseAddrPort(peer); err == nil {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(pa.Addr().Unmap().String())
	}
	return b.String()
}

// nextForwardedElement splits the first element of a Forwarded list off s,
// minding quoted strings (which may hold commas).
func nextForwardedElement(s string) (elem, rest string) {
	return cutOutsideQuotes(s, ',')
}

// cutOutsideQuotes cuts s at the first sep outside a quoted string.
func cutOutsideQuotes(s string, sep byte) (before, after string) {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case c == sep && !quoted:
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

// parseForwardedFor returns the address of the first for= parameter of one
// Forwarded element; ok is false when there is none or it is not an IP
// address ("unknown", "_hidden", garbage).
func parseForwardedFor(elem string) (netip.Addr, bool) {
	for elem != "" {
		var pair string
		pair, elem = cutOutsideQuotes(elem, ';')
		name, value, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok || !strings.EqualFold(name, "for") {
			continue
		}
		if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
			value = value[1 : len(value)-1]
		}
		if strings.ContainsAny(value, "\\\" ") {
			return netip.Addr{}, false
		}
		return parseNode(value, true)
	}
	return netip.Addr{}, false
}

// parseNode reads an address as proxies write it, with or without a port:
// 192.0.2.1, 192.0.2.1:80, 2001:db8::1, [2001:db8::1], [2001:db8::1]:80.
// In Forwarded (obfuscatedPort) the port may be an obfuscated "_name".
// Zones are refused.
func parseNode(s string, obfuscatedPort bool) (netip.Addr, bool) {
	host, port := s, ""
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return netip.Addr{}, false
		}
		host, port = s[1:end], s[end+1:]
		if port != "" {
			if port[0] != ':' {
				return netip.Addr{}, false
			}
			port = port[1:]
			if port == "" {
				return netip.Addr{}, false
			}
		}
	} else if strings.Count(s, ":") == 1 {
		host, port, _ = strings.Cut(s, ":")
		if port == "" {
			return netip.Addr{}, false
		}
	}
	if port != "" && !(obfuscatedPort && port[0] == '_') {
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || port[0] == '+' || n > 65535 {
			return netip.Addr{}, false
		}
	}
	a, err := netip.ParseAddr(host)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a, true
}
