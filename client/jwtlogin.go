package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/latchkey/latchkey/jwtmint"
)

// JWTLoginConfig says where and as whom to log in for a JWT, the way seed
// 002 (Quantamatics) does and latchkey's jwt.login endpoint answers:
//
//	POST /api/Account/login
//	Content-Type: application/json
//
//	{"email": "...", "password": "..."}
//	→ 200 {"token": "<JWT>", "user": {...}}
type JWTLoginConfig struct {
	// URL is the login endpoint, such as https://host/api/Account/login.
	URL string
	// Email names the user.
	Email string
	// Password is the user's password or one of their API keys.
	Password string
}

// String shows the configuration without the password.
func (c JWTLoginConfig) String() string {
	return fmt.Sprintf("{URL:%s Email:%s Password:<redacted>}", redactURL(c.URL), c.Email)
}

// GoString is String, for %#v.
func (c JWTLoginConfig) GoString() string { return "client.JWTLoginConfig" + c.String() }

// Token logs in once through rt (nil means a Transport with the zero
// Options) and returns the token, to send with Bearer. A failed login is an
// error, *StatusError when the server answered, that never holds the
// password.
func (c JWTLoginConfig) Token(ctx context.Context, rt http.RoundTripper) (string, error) {
	rt = orDefault(rt)
	l, err := c.login(rt)
	if err != nil {
		return "", err
	}
	cr, err := l.open(ctx)
	if err != nil {
		return "", err
	}
	return cr.bearer, nil
}

func (c JWTLoginConfig) login(next http.RoundTripper) (*jwtLogin, error) {
	u, err := parseEndpoint("JWTLogin", c.URL, next)
	if err != nil {
		return nil, err
	}
	if c.Email == "" || c.Password == "" {
		return nil, errors.New("client: JWTLogin: give an email and a password (or API key)")
	}
	return &jwtLogin{cfg: c, next: next, url: u}, nil
}

// JWTLogin returns a transport that logs in for a JWT (see JWTLoginConfig)
// before the first request and sends the token as "Authorization: Bearer"
// on every request. It logs in again when the token's exp is near, and once
// when the server answers 401 to the token, sending the request again if
// its body can be replayed. A nil next means a Transport with the zero
// Options.
func JWTLogin(c JWTLoginConfig, next http.RoundTripper) (http.RoundTripper, error) {
	next = orDefault(next)
	l, err := c.login(next)
	if err != nil {
		return nil, err
	}
	return &sessionTransport{renewing{name: "JWTLogin", next: next, renewable: true, open: l.open, apply: l.apply}, c.String()}, nil
}

type jwtLogin struct {
	cfg  JWTLoginConfig
	next http.RoundTripper
	url  *url.URL
}

func (l *jwtLogin) open(ctx context.Context) (*credentials, error) {
	body := struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}{l.cfg.Email, l.cfg.Password}
	u := l.url
	resp, b, err := post(ctx, l.next, u.String(), body, nil)
	if err != nil {
		return nil, fmt.Errorf("client: log in at %s: %w", u.Redacted(), err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, refused("log in", u, resp, b, l.cfg.Password)
	}
	var v struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(b, &v); err != nil || v.Token == "" {
		return nil, fmt.Errorf("client: log in at %s: the answer (%s) has no \"token\"", u.Redacted(), resp.Status)
	}
	return &credentials{bearer: v.Token, expires: tokenExpiry(v.Token)}, nil
}

func (l *jwtLogin) apply(r *http.Request, c *credentials) bool {
	r.Header.Set("Authorization", "Bearer "+c.bearer)
	return true
}

// tokenExpiry reads a JWT's exp without checking the token (the server
// checks it); the zero time when it has none.
func tokenExpiry(tok string) time.Time {
	_, claims, err := jwtmint.Decode(tok)
	if err != nil {
		return time.Time{}
	}
	if n, ok := claims["exp"].(json.Number); ok {
		if f, err := n.Float64(); err == nil && f > 0 {
			return time.Unix(int64(f), 0)
		}
	}
	return time.Time{}
}
