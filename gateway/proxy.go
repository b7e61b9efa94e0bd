package gateway

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"

	"github.com/latchkey/latchkey"
)

// HeaderJWT carries, on routes with upstream_jwt, the principal as a
// short-lived JWT signed by latchkey (verifiable with /.well-known/jwks.json).
const HeaderJWT = "X-Latchkey-Jwt"

// upstreamJWTLifetime is the longest an upstream JWT is valid: it is
// signed for one request.
const upstreamJWTLifetime = 5 * time.Minute

// upstreams holds one transport, with its pool of connections, per
// upstream host and timeout, so that routes to one upstream share
// connections. It is filled while the router is built, before any request.
type upstreams struct {
	m map[upstreamKey]*http.Transport
}

type upstreamKey struct {
	scheme, host string
	timeout      time.Duration
}

// transport returns the transport for target whose wait for response
// headers is timeout, the route's (which the configuration always sets; 0,
// from a route built otherwise, waits without a limit, as http.Transport
// does). Bodies stream without a limit.
func (u *upstreams) transport(target *url.URL, timeout time.Duration) *http.Transport {
	k := upstreamKey{target.Scheme, target.Host, timeout}
	if t, ok := u.m[k]; ok {
		return t
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = timeout
	t.MaxIdleConnsPerHost = 64 // the default 2 would close most connections a busy gateway opens
	if u.m == nil {
		u.m = make(map[upstreamKey]*http.Transport)
	}
	u.m[k] = t
	return t
}

// closeIdle closes the idle connections of every transport.
func (u *upstreams) closeIdle() {
	for _, t := range u.m {
		t.CloseIdleConnections()
	}
}

// proxy returns a reverse proxy to target that passes the principal on as
// identity headers, and as a JWT on routes with upstream_jwt. Request and
// response bodies stream (responses of unknown length and event streams are
// flushed as they come) and WebSocket upgrades pass through.
func (s *Server) proxy(target *url.URL, t http.RoundTripper) http.Handler {
	rp := &httputil.ReverseProxy{
		Transport:  t,
		BufferPool: copyBuffers,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
			if ri := forwardedFrom(pr.In); ri != nil {
				// Behind a trusted proxy: the chain latchkey checked, from
				// the client to the peer (clientaddr.go).
				pr.Out.Header.Set("X-Forwarded-For", trustedChain(pr.In.Header, ri.hop, ri.fromXFF, ri.peer))
			}
			pr.Out.Host = target.Host
			setIdentity(pr.Out.Header, PrincipalFrom(pr.In.Context()), s.cfg.Certificates.ImpersonationHeader)
			if a := admissionFrom(pr.In.Context()); a != nil && a.token != "" {
				pr.Out.Header.Set(HeaderJWT, a.token)
			}
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			var ne net.Error
			switch berr := bodyFailed(r); {
			case berr != nil: // the client's body, not the upstream (framing.go)
				w.Header().Set("Connection", "close")
				s.writeError(w, r, latchkey.Wrap(berr, latchkey.EINVALID,
					"The request body could not be read: its chunked encoding or length is not valid."))
				return
			case r.Context().Err() != nil: // the client went away: no upstream fault
				s.log.Debug("client left before the upstream answered", "upstream", target.Redacted(), "path", r.URL.Path)
			case errors.As(err, &ne) && ne.Timeout():
				s.log.Error("upstream timed out", "upstream", target.Redacted(), "path", r.URL.Path, "err", err)
				writeErrorBody(w, statusOf[latchkey.ETIMEOUT], latchkey.ETIMEOUT, "The upstream did not answer in time.")
				return
			default:
				s.log.Error("upstream failed", "upstream", target.Redacted(), "path", r.URL.Path, "err", err)
			}
			writeErrorBody(w, statusOf[latchkey.EUPSTREAM], latchkey.EUPSTREAM, "The upstream did not answer.")
		},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		watchBody(r)
		rp.ServeHTTP(w, r)
	})
}

// upstreamToken signs the principal for the upstream, valid for at most
// upstreamJWTLifetime (less when its credentials expire sooner), with its
// read-only state and the credential it came from.
func (s *Server) upstreamToken(ctx context.Context, p *latchkey.Principal) (string, error) {
	short := toSign(p, "")
	if limit := time.Now().Add(upstreamJWTLifetime); short.ExpiresAt.IsZero() || short.ExpiresAt.After(limit) {
		short.ExpiresAt = limit
	}
	tok, _, err := s.issuer.Sign(ctx, short)
	return tok, err
}

type admissionKey struct{}

// withAdmission returns a context that carries the admission and its
// principal.
func withAdmission(ctx context.Context, a *admission) context.Context {
	return context.WithValue(WithPrincipal(ctx, a.principal), admissionKey{}, a)
}

func admissionFrom(ctx context.Context) *admission {
	a, _ := ctx.Value(admissionKey{}).(*admission)
	return a
}

// copyBuffers lends the reverse proxies their 32 KiB buffers for copying
// response bodies, which they would otherwise allocate (and the collector
// clear and reclaim) once per request.
var copyBuffers httputil.BufferPool = bufferPool{}

type bufferPool struct{}

var buffers = sync.Pool{New: func() any { return new([32 << 10]byte) }}

func (bufferPool) Get() []byte { return buffers.Get().(*[32 << 10]byte)[:] }
func (bufferPool) Put(b []byte) {
	if len(b) == 32<<10 {
		buffers.Put((*[32 << 10]byte)(b))
	}
}
