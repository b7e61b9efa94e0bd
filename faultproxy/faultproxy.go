// Package faultproxy is a TCP proxy for tests that puts a sick network
// between latchkey and its database: it can freeze (stop forwarding, every
// connection left open, as a database whose processes are stopped), cut
// (close every connection, as a database that restarts) and refuse (close
// new connections at once, as a database that is down).
//
// It listens on a loopback port and forwards to one target address. It is
// meant for tests only: it sends traffic only where it is told.
package faultproxy

import (
	"net"
	"sync"
)

// Proxy forwards connections from its address to a target.
type Proxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	open   chan struct{} // closed while forwarding; open (blocking) while frozen
	refuse bool
	conns  map[net.Conn]struct{}
	closed bool

	refused chan struct{} // one value per connection refused, while it has room

	done chan struct{}
	wg   sync.WaitGroup
}

// Start listens on 127.0.0.1 at a free port and forwards to target.
func Start(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	open := make(chan struct{})
	close(open)
	p := &Proxy{ln: ln, target: target, open: open, conns: map[net.Conn]struct{}{}, done: make(chan struct{}),
		refused: make(chan struct{}, 1024)}
	p.wg.Go(p.accept)
	return p, nil
}

// Addr is the host:port to connect to instead of the target.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Freeze stops forwarding: bytes already sent wait, new connections are
// accepted but not connected onward, and nothing is closed.
func (p *Proxy) Freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.open:
		p.open = make(chan struct{})
	default: // frozen already
	}
}

// Thaw forwards again, starting with what waited.
func (p *Proxy) Thaw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.open:
	default:
		close(p.open)
	}
}

// Cut closes every connection, both ways.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// Refuse makes new connections close at once (true) or be forwarded again
// (false).
func (p *Proxy) Refuse(refuse bool) {
	p.mu.Lock()
	p.refuse = refuse
	p.mu.Unlock()
}

// Refused delivers a value for each connection closed because the proxy
// refuses, so that a test can wait for a client's attempts to reconnect.
func (p *Proxy) Refused() <-chan struct{} { return p.refused }

// Close stops listening, closes every connection and waits for the
// forwarding goroutines.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.done)
	err := p.ln.Close()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

// gate returns a channel that is closed while the proxy forwards.
func (p *Proxy) gate() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.open
}

// wait blocks while the proxy is frozen; false when it closed meanwhile.
func (p *Proxy) wait() bool {
	select {
	case <-p.gate():
		return true
	case <-p.done:
		return false
	}
}

// track adds c to the open connections; false when the proxy is closed.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		refuse := p.refuse
		p.mu.Unlock()
		if refuse {
			c.Close()
			select {
			case p.refused <- struct{}{}:
			default:
			}
			continue
		}
		if !p.track(c) {
			c.Close()
			continue
		}
		p.wg.Go(func() { p.serve(c) })
	}
}

// serve connects c onward once the proxy forwards, and pumps both ways
// until either side closes.
func (p *Proxy) serve(c net.Conn) {
	defer p.untrack(c)
	if !p.wait() {
		return
	}
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	if !p.track(up) {
		up.Close()
		return
	}
	defer p.untrack(up)
	var wg sync.WaitGroup
	wg.Go(func() { p.pump(up, c); up.Close() })
	p.pump(c, up)
	c.Close()
	wg.Wait()
}

// pump copies src to dst, holding each chunk while the proxy is frozen.
func (p *Proxy) pump(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.wait() {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // EOF or a closed connection: the other pump ends with it
		}
	}
}
