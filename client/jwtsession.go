package client

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
)

// The CSRF cookie and header of a session opened with a JWT, as Qlik Cloud
// (and latchkey by default) names them.
const (
	DefaultCSRFCookie = "_csrfToken"
	DefaultCSRFHeader = "qlik-csrf-token"
)

// JWTSessionConfig says where JWTSession exchanges which token.
type JWTSessionConfig struct {
	// URL is the exchange endpoint, such as
	// https://tenant.eu.qlikcloud.com/login/jwt-session.
	URL string
	// Minter makes a fresh token (with a new jti) for each exchange, so
	// that a session that ends is replaced: CloudMinter. Give it, or Token.
	Minter Minter
	// Token is a fixed token, for one exchange only: each token's jti opens
	// one session, so when that session ends the transport cannot open
	// another and returns the server's 401.
	Token string
	// CSRFCookie and CSRFHeader name the cookie whose value unsafe requests
	// echo, and the header they echo it in; "" means _csrfToken and
	// qlik-csrf-token.
	CSRFCookie, CSRFHeader string
}

// String shows the configuration without the token.
func (c JWTSessionConfig) String() string {
	tok := ""
	if c.Token != "" {
		tok = " Token:<redacted>"
	}
	return fmt.Sprintf("{URL:%s Minter:%t%s}", redactURL(c.URL), c.Minter != nil, tok)
}

// GoString is String, for %#v.
func (c JWTSessionConfig) GoString() string { return "client.JWTSessionConfig" + c.String() }

// JWTSession returns a transport that exchanges a JWT for a session the
// way seed 000 does with Qlik Cloud, and latchkey's jwt.session endpoint
// answers:
//
//	POST /login/jwt-session
//	Authorization: Bearer <JWT with kid>
//	→ 200, Set-Cookie: the session cookie, and the CSRF cookie
//
// and then sends the cookies, and no Authorization header, on every request
// to that site. POST, PUT, PATCH and DELETE requests also get the CSRF
// cookie's value in the CSRF header (qlik-csrf-token), unless they have the
// header already.
//
// When the server answers 401 to the cookies (the session idled out or was
// revoked), the transport exchanges a new token from the Minter once and
// sends the request again if its body can be replayed; with a fixed Token
// it returns the 401. A failed exchange is an error, *StatusError when the
// server answered (with Qlik's "detail"), that never holds the token.
//
// A nil next means a Transport with the zero Options.
func JWTSession(c JWTSessionConfig, next http.RoundTripper) (http.RoundTripper, error) {
	next = orDefault(next)
	u, err := parseEndpoint("JWTSession", c.URL, next)
	if err != nil {
		return nil, err
	}
	if (c.Minter == nil) == (c.Token == "") {
		return nil, errors.New("client: JWTSession: give a Minter or a Token (one of them)")
	}
	x := &jwtExchange{cfg: c, url: u, next: next,
		csrfCookie: cmp.Or(c.CSRFCookie, DefaultCSRFCookie), csrfHeader: cmp.Or(c.CSRFHeader, DefaultCSRFHeader)}
	return &sessionTransport{renewing{name: "JWTSession", next: next, renewable: c.Minter != nil, open: x.open, apply: x.apply}, c.String()}, nil
}

type jwtExchange struct {
	cfg                    JWTSessionConfig
	url                    *url.URL
	next                   http.RoundTripper
	csrfCookie, csrfHeader string
}

func (x *jwtExchange) open(ctx context.Context) (*credentials, error) {
	tok := x.cfg.Token
	if x.cfg.Minter != nil {
		var err error
		if tok, err = x.cfg.Minter.Mint(); err != nil {
			return nil, fmt.Errorf("client: mint a token: %w", err)
		}
	}
	resp, b, err := post(ctx, x.next, x.url.String(), nil, http.Header{"Authorization": {"Bearer " + tok}})
	if err != nil {
		return nil, fmt.Errorf("client: exchange the JWT at %s: %w", x.url.Redacted(), err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, refused("exchange the JWT", x.url, resp, b, tok)
	}
	jar, _ := cookiejar.New(nil)
	jar.SetCookies(x.url, resp.Cookies())
	if len(jar.Cookies(x.url)) == 0 {
		return nil, fmt.Errorf("client: exchange the JWT at %s: the answer (%s) set no cookie", x.url.Redacted(), resp.Status)
	}
	return &credentials{jar: jar}, nil
}

func (x *jwtExchange) apply(r *http.Request, c *credentials) bool {
	cs := addCookies(r, c.jar)
	if len(cs) == 0 {
		return false
	}
	if !safeMethod(r.Method) && r.Header.Get(x.csrfHeader) == "" {
		for _, ck := range cs {
			if ck.Name == x.csrfCookie {
				r.Header.Set(x.csrfHeader, ck.Value)
				break
			}
		}
	}
	return true
}

// sessionTransport is a renewing transport with a printable name.
type sessionTransport struct {
	r    renewing
	desc string
}

func (s *sessionTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return s.r.RoundTrip(r)
}
func (s *sessionTransport) CloseIdleConnections() { s.r.CloseIdleConnections() }
func (s *sessionTransport) allowsPlainHTTP() bool { return s.r.allowsPlainHTTP() }
func (s *sessionTransport) String() string        { return "client." + s.r.name + "(" + s.desc + ")" }
func (s *sessionTransport) GoString() string      { return s.String() }
