package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/credential"
)

// requestInfo is filled in while a request is served, for its log line and
// metrics.
type requestInfo struct {
	start     time.Time // when logRequests took the request
	route     string
	principal *latchkey.Principal

	// signIn is who a failed Basic or login sign-in was looked up as, with
	// the directory a bare name was taken to be in (LOCAL\goran), for the
	// log line only: the client's answer is the same whether or not the
	// user exists. Never the secret.
	signIn string

	// forwarded is set when the client's address (r.RemoteAddr) came
	// from a trusted proxy's header; nil when the client is the TCP peer.
	// A pointer, so that the common case carries 8 bytes, not the hop.
	forwarded *forwardedClient
}

// forwardedClient is what logRequests found about a client behind a
// trusted proxy.
type forwardedClient struct {
	peer    string    // the TCP peer's address, a trusted proxy's
	hop     clientHop // the hop that names the client
	fromXFF bool      // the hop is in X-Forwarded-For, not Forwarded
}

// forwardedFrom returns what logRequests found about a client behind a
// trusted proxy, or nil when the client is the TCP peer.
func forwardedFrom(r *http.Request) *forwardedClient {
	if ri, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
		return ri.forwarded
	}
	return nil
}

type requestInfoKey struct{}

// requestInfoOf is r's requestInfo, nil outside logRequests (in some
// tests and benchmarks).
func requestInfoOf(r *http.Request) *requestInfo {
	ri, _ := r.Context().Value(requestInfoKey{}).(*requestInfo)
	return ri
}

func setRouteName(r *http.Request, name string) {
	if ri, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
		ri.route = name
	}
}

// setFailedSignIn records, for the log line, that a sign-in as login
// failed: login qualified with the directory a bare name is looked up in.
func setFailedSignIn(r *http.Request, creds *credential.Service, login string) {
	if ri, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
		dir, name := creds.SplitLogin(login)
		q := dir + `\` + name
		if len(q) > 256 {
			q = q[:256]
		}
		ri.signIn = q
	}
}

func setPrincipal(r *http.Request, p *latchkey.Principal) {
	if ri, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
		ri.principal = p
	}
}

// statusWriter records the status an http.ResponseWriter was given.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush, Hijack and deadlines.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logRequests logs one line per request and counts it. The query string is
// left out of the log: some clients put credentials there. It also sets the
// request's RemoteAddr to the client's address (clientaddr.go) on the copy
// it makes anyway, before anything else reads it.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ri := &requestInfo{start: start, route: "-"}
		sw := &statusWriter{ResponseWriter: w}
		r = r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, ri))
		if client, hop, fromXFF := s.trusted.clientAddress(r.RemoteAddr, r.Header); client != r.RemoteAddr {
			ri.forwarded = &forwardedClient{peer: r.RemoteAddr, hop: hop, fromXFF: fromXFF}
			r.RemoteAddr = client
		}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		d := time.Since(start)
		s.metrics.observeRequest(ri.route, r.Method, sw.status, d)
		if !s.log.Enabled(r.Context(), slog.LevelInfo) {
			return
		}
		attrs := []slog.Attr{
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", sw.status),
			slog.String("route", ri.route),
			slog.Duration("duration", d),
			slog.String("remote", r.RemoteAddr),
		}
		if p := ri.principal; p != nil {
			attrs = append(attrs, slog.String("auth", p.Method))
			if !p.IsAnonymous() {
				attrs = append(attrs, slog.String("user", p.QualifiedName()))
			}
		}
		if ri.signIn != "" {
			attrs = append(attrs, slog.String("signin_failed", ri.signIn))
		}
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
	})
}
