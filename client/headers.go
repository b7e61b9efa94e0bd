package client

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/latchkey/latchkey/xrfkey"
)

// DefaultAPIKeyHeader is the header APIKey sends the key in (seed 002's
// X-Api-Key; latchkey matches it in any case).
const DefaultAPIKeyHeader = "X-Api-Key"

// QlikUserHeader is the header that names the user a trusted client
// certificate acts as (seed 003).
const QlikUserHeader = "X-Qlik-User"

// Xrfkey returns a transport that adds a fresh Xrfkey to every request, as
// Qlik's APIs require (seeds 000, 001, 003): 16 random characters of
// [0-9A-Za-z] from a CSPRNG, as the Xrfkey query parameter and the
// X-Qlik-Xrfkey header, replacing any the request had. It is no credential,
// so it goes over plain HTTP and through redirects as the request does. A
// nil next means a Transport with the zero Options.
func Xrfkey(next http.RoundTripper) http.RoundTripper {
	return &xrfkeyTransport{next: orDefault(next)}
}

type xrfkeyTransport struct{ next http.RoundTripper }

func (x *xrfkeyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r2 := r.Clone(r.Context())
	xrfkey.Set(r2)
	return x.next.RoundTrip(r2)
}
func (x *xrfkeyTransport) CloseIdleConnections() { closeIdle(x.next) }
func (x *xrfkeyTransport) allowsPlainHTTP() bool { return allowsPlain(x.next) }
func (x *xrfkeyTransport) String() string        { return "client.Xrfkey" }

// headerAuth adds a credential to each request that carries credentials
// (see carriesCredentials), refusing plain HTTP unless allowed.
type headerAuth struct {
	name  string // for String and errors, such as "Bearer"
	next  http.RoundTripper
	apply func(r *http.Request) error // sets the credential on a clone
}

func (h *headerAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	if !carriesCredentials(r) {
		return h.next.RoundTrip(r)
	}
	if err := checkScheme(origin(r), r.URL.Scheme, h.next); err != nil {
		closeBody(r)
		return nil, err
	}
	r2 := r.Clone(r.Context())
	if err := h.apply(r2); err != nil {
		closeBody(r)
		return nil, err
	}
	return h.next.RoundTrip(r2)
}
func (h *headerAuth) CloseIdleConnections() { closeIdle(h.next) }
func (h *headerAuth) allowsPlainHTTP() bool { return allowsPlain(h.next) }

// String names the transport without its secret, so that printing one
// (with %v or %+v) shows no credential.
func (h *headerAuth) String() string   { return "client." + h.name + "(<redacted>)" }
func (h *headerAuth) GoString() string { return h.String() }

func newHeaderAuth(name string, next http.RoundTripper, apply func(*http.Request) error) http.RoundTripper {
	return &headerAuth{name: name, next: orDefault(next), apply: apply}
}

// Bearer returns a transport that sends token as "Authorization: Bearer
// <token>" on every request: a fixed JWT, such as one from
// "latchkey jwt create" or JWTLoginConfig.Token. It replaces an
// Authorization header the request had. A nil next means a Transport with
// the zero Options.
func Bearer(token string, next http.RoundTripper) http.RoundTripper {
	return newHeaderAuth("Bearer", next, func(r *http.Request) error {
		if token == "" {
			return errors.New("client: Bearer: the token is empty")
		}
		r.Header.Set("Authorization", "Bearer "+token)
		return nil
	})
}

// MintedBearer returns a transport that mints a new token with m for every
// request and sends it as "Authorization: Bearer <token>": short-lived
// tokens that a key on this side signs (QSEoWMinter, CloudMinter), so no
// long-lived token exists to be stolen. A nil next means a Transport with
// the zero Options.
func MintedBearer(m Minter, next http.RoundTripper) http.RoundTripper {
	return newHeaderAuth("MintedBearer", next, func(r *http.Request) error {
		if m == nil {
			return errors.New("client: MintedBearer: no Minter")
		}
		tok, err := m.Mint()
		if err != nil {
			return fmt.Errorf("client: mint a token: %w", err)
		}
		r.Header.Set("Authorization", "Bearer "+tok)
		return nil
	})
}

// APIKey returns a transport that sends key in the X-Api-Key header on
// every request (seed 002; latchkey's api_keys.header). A nil next means a
// Transport with the zero Options.
func APIKey(key string, next http.RoundTripper) http.RoundTripper {
	return APIKeyHeader(DefaultAPIKeyHeader, key, next)
}

// APIKeyHeader is APIKey with another header name ("" means X-Api-Key).
func APIKeyHeader(header, key string, next http.RoundTripper) http.RoundTripper {
	if header == "" {
		header = DefaultAPIKeyHeader
	}
	return newHeaderAuth("APIKey", next, func(r *http.Request) error {
		if key == "" {
			return errors.New("client: APIKey: the key is empty")
		}
		r.Header.Set(header, key)
		return nil
	})
}

// Basic returns a transport that sends HTTP Basic credentials on every
// request (seed 004): "Authorization: Basic base64(username:password)",
// where the password may be an API key. A nil next means a Transport with
// the zero Options.
func Basic(username, password string, next http.RoundTripper) http.RoundTripper {
	return newHeaderAuth("Basic", next, func(r *http.Request) error {
		if username == "" {
			return errors.New("client: Basic: the username is empty")
		}
		r.SetBasicAuth(username, password)
		return nil
	})
}

// QlikUser returns a transport that names the user to act as in
// "X-Qlik-User: UserDirectory=<directory>; UserId=<userID>" on every
// request (seed 003), the values URL-encoded where needed. The header only
// counts from a client certificate that the server trusts: put a Transport
// with Options.CertFile and Options.KeyFile below it. A nil next means a
// Transport with the zero Options (and so no client certificate).
func QlikUser(directory, userID string, next http.RoundTripper) http.RoundTripper {
	value := FormatQlikUser(directory, userID)
	return newHeaderAuth("QlikUser", next, func(r *http.Request) error {
		if directory == "" || userID == "" {
			return errors.New("client: QlikUser: give both the user directory and the user id")
		}
		r.Header.Set(QlikUserHeader, value)
		return nil
	})
}

// FormatQlikUser returns the value of the X-Qlik-User header for a user:
// "UserDirectory=INTERNAL; UserId=sa_repository", each value URL-encoded
// as a path segment is (url.PathEscape: a space is %20, ";" is %3B, "Göran"
// is "G%C3%B6ran"), as latchkey and Qlik read it.
func FormatQlikUser(directory, userID string) string {
	return "UserDirectory=" + url.PathEscape(directory) + "; UserId=" + url.PathEscape(userID)
}
