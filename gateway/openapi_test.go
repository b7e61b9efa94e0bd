package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/credential"
)

// newOpenAPIFixture is the JWT fixture (session login, API keys, JWT login
// at /api/Account/login, JWT session exchange at /login/jwt-session, JWKS)
// with forward-auth at /auth/verify, and two more routes to decide there:
// /qrs behind the Xrfkey guard, and /reader for GET only.
func newOpenAPIFixture(t *testing.T) *jwtFixture {
	t.Helper()
	f := newJWTFixture(t)
	cfg := *f.s.cfg
	cfg.Server.ForwardAuthPath = "/auth/verify"
	cfg.Routes = append(slices.Clip(cfg.Routes),
		config.Route{Name: "qrs", Prefix: "/qrs", Upstream: "echo", Auth: []string{latchkey.MethodBasic}, Xrfkey: true},
		config.Route{Name: "reader", Prefix: "/reader", Upstream: "echo", Auth: []string{latchkey.MethodAPIKey}, Methods: []string{http.MethodGet}})
	s, err := New(&cfg, Deps{Store: f.st, Creds: f.creds, Log: quietLog(), Issuer: f.s.issuer, Verifiers: f.s.verifiers})
	if err != nil {
		t.Fatal(err)
	}
	s.refusalDelay = testRefusalDelay
	f.s = s
	return f
}

// unreachableStore is a store whose database does not answer a ping.
type unreachableStore struct{ latchkey.Store }

func (unreachableStore) Ping(context.Context) error {
	return latchkey.Errorf(latchkey.EUNAVAILABLE, "The database does not answer.")
}

// wantStatus fails the test unless w answered code.
func wantStatus(t testing.TB, w *httptest.ResponseRecorder, code int) *httptest.ResponseRecorder {
	t.Helper()
	if w.Code != code {
		t.Errorf("status %d, want %d: %s", w.Code, code, w.Body)
	}
	return w
}

// from sets the client address of r, for the tests that reach a sign-in
// limit without touching the other tests' address.
func from(addr string, r *http.Request) *http.Request {
	r.RemoteAddr = addr
	return r
}

// untilThrottled sends try until it is answered 429, at most ten times;
// every answer before must be 401.
func untilThrottled(t testing.TB, try func() *httptest.ResponseRecorder) {
	t.Helper()
	for range 10 {
		switch w := try(); w.Code {
		case http.StatusTooManyRequests:
			return
		case http.StatusUnauthorized:
		default:
			t.Fatalf("status %d before the limit: %s", w.Code, w.Body)
		}
	}
	t.Fatal("never throttled")
}

// keyView decodes an answer of the API key endpoints.
func keyView(t testing.TB, w *httptest.ResponseRecorder) credential.KeyView {
	t.Helper()
	var v credential.KeyView
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil || v.ID == "" {
		t.Fatalf("not a key view: %d %s", w.Code, w.Body)
	}
	return v
}

// TestOpenAPIDocument calls every operation of openapi.json on a real
// gateway (SQLite store, credential service, issuer, a JWT verifier), with
// answers of success and the usual refusals, and holds each request and
// answer to the document. Then every documented operation must have been
// called and answered with success: an endpoint added to the document
// (admin endpoints, say) fails this test until it gets its calls here, in a
// subtest of its own with check.in(t).
func TestOpenAPIDocument(t *testing.T) {
	f := newOpenAPIFixture(t)
	check := newAPICheck(t, f.s.Handler())
	ctx := context.Background()

	ann := f.addEmailUser("ann", "ann@example.com", latchkey.RoleAPIKeyUser)
	f.addUser("boss", latchkey.RoleAPIKeyAdmin)
	plain := f.addUser("plain")
	annKey, annReadOnly, plainKey := f.key(ann, false), f.key(ann, true), f.key(plain, false)
	asAnn, asBoss, asPlain := basic(`LAB\ann`, "password-ann"), basic(`LAB\boss`, "password-boss"), basic(`LAB\plain`, "password-plain")
	const noKey = "aaaaaaaaaaaaa" // shaped like a key id; no key has it

	t.Run("session", func(t *testing.T) {
		a := check.in(t)
		login := func(body string, header ...string) *http.Request {
			return request("POST", "/api/v1/login", body, header...)
		}
		const good = `{"username": "LAB\\ann", "password": "password-ann"}`
		w := wantStatus(t, a.do(login(good, xhr()...)), 200)
		cookie := "wtsession=" + w.Header().Get("X-Session-Id")

		wantStatus(t, a.doInvalid(login(`{"username": "ann",`, xhr()...), "the body is not JSON"), 400)
		wantStatus(t, a.doInvalid(login(`{"username": "LAB\\ann", "password": "x", "remember": true}`, xhr()...), "an unknown field"), 400)
		wantStatus(t, a.doInvalid(login(`{"username": "LAB\\ann", "password": ""}`, xhr()...), "an empty password"), 400)
		wantStatus(t, a.doInvalid(login("username=ann&password=x", xhr("Content-Type", "application/x-www-form-urlencoded")...), "a form"), 400)
		wantStatus(t, a.do(login(`{"username": "LAB\\ann", "password": "wrong"}`, xhr()...)), 401)
		wantStatus(t, a.doInvalid(login(good, "Origin", testOrigin, "Accept", "application/json", "Content-Type", "application/json"),
			"no X-Requested-With"), 403)
		wantStatus(t, a.do(login(`{"username": "LAB\\plain", "password": "`+plainKey.Key+`"}`, xhr()...)), 403) // no apikey.signin
		wantStatus(t, a.doOtherMethod(request("GET", "/api/v1/login", "")), 405)
		untilThrottled(t, func() *httptest.ResponseRecorder {
			return a.do(from("192.0.2.50:1234", login(`{"username": "LAB\\nobody", "password": "wrong"}`, xhr()...)))
		})

		logout := func(header ...string) *http.Request { return request("POST", "/api/v1/logout", "", header...) }
		wantStatus(t, a.doInvalid(logout("Cookie", cookie, "Accept", "application/json", "X-Requested-With", "XMLHttpRequest"), "no Origin"), 403)
		wantStatus(t, a.do(logout(xhr("Cookie", cookie)...)), 200)
		wantStatus(t, a.do(logout(xhr("Cookie", cookie)...)), 401) // ended
		wantStatus(t, a.doInvalid(logout(xhr()...), "no session cookie"), 401)
		wantStatus(t, a.doOtherMethod(request("GET", "/api/v1/logout", "", "Cookie", cookie)), 405)
	})

	t.Run("api keys", func(t *testing.T) {
		a := check.in(t)
		const prefix = "/api/v1/api_keys"
		gen := func(body string, header ...string) *http.Request {
			return request("POST", prefix+"/generate_api_key", body, header...)
		}
		own := keyView(t, wantStatus(t, a.do(gen(`{"name": "ci", "days": 10}`, xhr("Authorization", asAnn)...)), 200))
		if own.Key == "" {
			t.Errorf("a key made for oneself is not shown: %+v", own)
		}
		forAnn := keyView(t, wantStatus(t, a.do(gen(`{"name": "for ann", "user": "LAB\\ann", "read_only": true}`, xhr("Authorization", asBoss)...)), 200))
		if forAnn.Key != "" || !forAnn.AwaitsReveal {
			t.Errorf("a key made for another user is shown to its maker: %+v", forAnn)
		}
		wantStatus(t, a.do(gen(`{"user": "LAB\\ghost"}`, xhr("Authorization", asBoss)...)), 404)
		wantStatus(t, a.do(gen(`{"days": 9999}`, xhr("Authorization", asAnn)...)), 400)
		wantStatus(t, a.doInvalid(gen(`{"days": "ten"}`, xhr("Authorization", asAnn)...), "days is not a number"), 400)
		wantStatus(t, a.doInvalid(gen(`[`, xhr("Authorization", asAnn)...), "the body is not JSON"), 400)
		wantStatus(t, a.doInvalid(gen(`{}`, xhr()...), "no credentials"), 401)
		wantStatus(t, a.do(gen(`{}`, xhr("Authorization", basic(`LAB\ann`, "wrong"))...)), 401)
		wantStatus(t, a.do(gen(`{}`, xhr("Authorization", asPlain)...)), 403) // no apikey.generate
		wantStatus(t, a.doInvalid(gen(`{}`, "Authorization", asAnn, "Accept", "application/json", "X-Requested-With", "XMLHttpRequest",
			"Content-Type", "application/json"), "no Origin"), 403)
		wantStatus(t, a.doOtherMethod(request("GET", prefix+"/generate_api_key", "", "Authorization", asAnn)), 405)

		// The list, with each method, for oneself and for another.
		session := "wtsession=" + f.login(`LAB\ann`, "password-ann")
		for _, cred := range [][]string{{"Authorization", asAnn}, {"X-Api-Key", annKey.Key}, {"Cookie", session}} {
			w := wantStatus(t, a.do(request("GET", prefix, "", cred...)), 200)
			var views []credential.KeyView
			if json.Unmarshal(w.Body.Bytes(), &views); len(views) != 4 {
				t.Errorf("ann's keys with %s: %s", cred[0], w.Body)
			}
		}
		wantStatus(t, a.do(request("GET", prefix+`?user=LAB%5Cann`, "", "Authorization", asBoss)), 200)
		wantStatus(t, a.do(request("GET", prefix+`?user=LAB%5Cboss`, "", "Authorization", asAnn)), 403)
		wantStatus(t, a.do(request("GET", prefix+`?user=LAB%5Cghost`, "", "Authorization", asBoss)), 404)
		wantStatus(t, a.doInvalid(request("GET", prefix, ""), "no credentials"), 401)
		wantStatus(t, a.do(request("HEAD", prefix, "", "Authorization", asAnn)), 200)
		wantStatus(t, a.doInvalid(request("HEAD", prefix, ""), "no credentials"), 401)
		wantStatus(t, a.doOtherMethod(request("POST", prefix, `{}`, xhr("Authorization", asAnn)...)), 405)

		// One key: a key made for ann by someone else is shown to her once.
		one := func(method, id string, header ...string) *http.Request {
			return request(method, prefix+"/"+id, "", header...)
		}
		if v := keyView(t, wantStatus(t, a.do(one("GET", own.ID, "Authorization", asAnn)), 200)); v.Key != "" {
			t.Errorf("details show the key again: %+v", v)
		}
		if v := keyView(t, wantStatus(t, a.do(one("GET", forAnn.ID, "Authorization", asAnn)), 200)); v.Key == "" {
			t.Errorf("the key made for ann is not shown to her: %+v", v)
		}
		if v := keyView(t, wantStatus(t, a.do(one("GET", forAnn.ID, "Authorization", asAnn)), 200)); v.Key != "" {
			t.Errorf("the key made for ann is shown twice: %+v", v)
		}
		wantStatus(t, a.do(one("GET", forAnn.ID, "Authorization", asPlain)), 404) // not plain's to see
		wantStatus(t, a.do(one("GET", noKey, "Authorization", asAnn)), 404)
		wantStatus(t, a.do(one("GET", own.ID, "X-Api-Key", plainKey.Key)), 403) // plain lacks apikey.signin
		wantStatus(t, a.doInvalid(one("GET", own.ID), "no credentials"), 401)
		wantStatus(t, a.doInvalid(one("GET", "Not-A-Key-Id", "Authorization", asAnn), "the id is not shaped like a key id"), 404)
		wantStatus(t, a.doOtherMethod(one("HEAD", own.ID, "Authorization", asAnn)), 405)
		wantStatus(t, a.doOtherMethod(one("PUT", own.ID, xhr("Authorization", asAnn)...)), 405)

		// Revoking, both ways.
		k1, k2 := f.key(ann, false), f.key(ann, false)
		wantStatus(t, a.do(one("POST", k1.ID+"/revoke", xhr("Authorization", asAnn)...)), 200)
		wantStatus(t, a.do(one("POST", k1.ID+"/revoke", xhr("Authorization", asAnn)...)), 409)
		wantStatus(t, a.do(one("DELETE", k2.ID, xhr("Authorization", asAnn)...)), 200)
		wantStatus(t, a.do(one("DELETE", k2.ID, xhr("Authorization", asAnn)...)), 409)
		wantStatus(t, a.do(one("POST", noKey+"/revoke", xhr("Authorization", asAnn)...)), 404)
		wantStatus(t, a.do(one("DELETE", noKey, xhr("Authorization", asAnn)...)), 404)
		wantStatus(t, a.do(one("POST", own.ID+"/revoke", xhr("X-Api-Key", annReadOnly.Key)...)), 403) // read-only
		wantStatus(t, a.do(one("DELETE", own.ID, xhr("X-Api-Key", annReadOnly.Key)...)), 403)
		wantStatus(t, a.doInvalid(one("POST", own.ID+"/revoke", xhr()...), "no credentials"), 401)
		wantStatus(t, a.doInvalid(one("DELETE", own.ID, xhr()...), "no credentials"), 401)
		wantStatus(t, a.doInvalid(one("DELETE", own.ID, "Authorization", asAnn, "Origin", testOrigin, "Accept", "application/json"),
			"no X-Requested-With"), 403)
		wantStatus(t, a.doOtherMethod(one("GET", own.ID+"/revoke", "Authorization", asAnn)), 405)

		// Rotating.
		k3 := f.key(ann, false)
		if v := keyView(t, wantStatus(t, a.do(one("POST", k3.ID+"/rotate", xhr("Authorization", asAnn)...)), 200)); v.Key == "" || v.ID == k3.ID {
			t.Errorf("rotate: %+v", v)
		}
		wantStatus(t, a.do(one("POST", k3.ID+"/rotate", xhr("Authorization", asAnn)...)), 409) // revoked by the rotation
		wantStatus(t, a.do(one("POST", noKey+"/rotate", xhr("Authorization", asAnn)...)), 404)
		wantStatus(t, a.do(one("POST", own.ID+"/rotate", xhr("X-Api-Key", annReadOnly.Key)...)), 403)
		gone := f.addUser("gone")
		goneKey := f.key(gone, false)
		disabled := true
		if _, err := f.st.UpdateUser(ctx, gone.ID, latchkey.UserUpdate{Disabled: &disabled}, nil); err != nil {
			t.Fatal(err)
		}
		wantStatus(t, a.do(one("POST", goneKey.ID+"/rotate", xhr("Authorization", asBoss)...)), 400) // no new keys for a disabled user
		wantStatus(t, a.doInvalid(one("POST", own.ID+"/rotate", xhr()...), "no credentials"), 401)
		wantStatus(t, a.doOtherMethod(one("GET", own.ID+"/rotate", "Authorization", asAnn)), 405)

		// A key's own rate limit: at creation, set, changed and taken away.
		limitedKey := keyView(t, wantStatus(t, a.do(gen(`{"name": "capped", "rate_limit": {"requests": 100, "window": 60, "burst": 20}}`,
			xhr("Authorization", asAnn)...)), 200))
		if l := limitedKey.RateLimit; l == nil || *l != (latchkey.RateLimit{Requests: 100, Window: 60, Burst: 20}) {
			t.Errorf("the new key's limit: %+v", l)
		}
		setLimit := func(id, body string, header ...string) *http.Request {
			return request("POST", prefix+"/"+id+"/rate_limit", body, header...)
		}
		if v := keyView(t, wantStatus(t, a.do(setLimit(own.ID, `{"requests": 3, "window": 60}`, xhr("Authorization", asAnn)...)), 200)); v.RateLimit == nil || v.RateLimit.Requests != 3 {
			t.Errorf("set limit: %+v", v.RateLimit)
		}
		if v := keyView(t, wantStatus(t, a.do(one("GET", own.ID, "Authorization", asAnn)), 200)); v.RateLimit == nil || v.RateLimit.Window != 60 {
			t.Errorf("details after setting a limit: %+v", v.RateLimit)
		}
		wantStatus(t, a.doInvalid(setLimit(own.ID, `{"requests": 0, "window": 60}`, xhr("Authorization", asAnn)...), "no requests"), 400)
		wantStatus(t, a.doInvalid(setLimit(own.ID, `{"requests": 5}`, xhr("Authorization", asAnn)...), "no window"), 400)
		wantStatus(t, a.do(setLimit(noKey, `{"requests": 5, "window": 60}`, xhr("Authorization", asAnn)...)), 404)
		wantStatus(t, a.do(setLimit(own.ID, `{"requests": 5, "window": 60}`, xhr("Authorization", asPlain)...)), 404) // not plain's to see
		wantStatus(t, a.do(setLimit(own.ID, `{"requests": 5, "window": 60}`, xhr("X-Api-Key", annReadOnly.Key)...)), 403)
		wantStatus(t, a.do(setLimit(k3.ID, `{"requests": 5, "window": 60}`, xhr("Authorization", asAnn)...)), 409) // revoked
		wantStatus(t, a.doInvalid(setLimit(own.ID, `{"requests": 5, "window": 60}`, xhr()...), "no credentials"), 401)
		if v := keyView(t, wantStatus(t, a.do(one("DELETE", own.ID+"/rate_limit", xhr("Authorization", asAnn)...)), 200)); v.RateLimit != nil {
			t.Errorf("limit taken away: %+v", v.RateLimit)
		}
		wantStatus(t, a.do(one("DELETE", noKey+"/rate_limit", xhr("Authorization", asAnn)...)), 404)
		wantStatus(t, a.do(one("DELETE", own.ID+"/rate_limit", xhr("X-Api-Key", annReadOnly.Key)...)), 403)
		wantStatus(t, a.do(one("DELETE", k3.ID+"/rate_limit", xhr("Authorization", asAnn)...)), 409)
		wantStatus(t, a.doInvalid(one("DELETE", own.ID+"/rate_limit", xhr()...), "no credentials"), 401)
		wantStatus(t, a.doOtherMethod(one("GET", own.ID+"/rate_limit", "Authorization", asAnn)), 405)
	})

	t.Run("jwt", func(t *testing.T) {
		a := check.in(t)
		exchange := func(header ...string) *http.Request { return request("POST", "/login/jwt-session", "", header...) }
		tok := f.cloudToken("carol", nil)
		w := wantStatus(t, a.do(exchange("Authorization", "Bearer "+tok)), 200)
		if n := len(w.Header().Values("Set-Cookie")); n != 2 {
			t.Errorf("%d cookies, want the session's and the CSRF cookie", n)
		}
		var session string
		for _, c := range w.Result().Cookies() {
			if c.Name == "wtsession" {
				session = "wtsession=" + c.Value
			}
		}
		wantStatus(t, a.do(exchange("Authorization", "Bearer "+tok)), 401) // replayed
		wantStatus(t, a.do(exchange("Authorization", "Bearer not-a-jwt")), 400)
		wantStatus(t, a.do(exchange("Authorization", "Bearer "+f.cloudToken("carol", jwt.MapClaims{"exp": time.Now().Add(-time.Minute).Unix()}))), 401)
		wantStatus(t, a.doInvalid(exchange(), "no bearer token"), 401)
		wantStatus(t, a.doOtherMethod(request("GET", "/login/jwt-session", "")), 405)
		// The session it opened: a read is fine, an unsafe request needs the
		// CSRF header besides seed 004's headers.
		wantStatus(t, a.do(request("GET", "/api/v1/api_keys", "", "Cookie", session)), 200)
		wantStatus(t, a.do(request("POST", "/api/v1/api_keys/generate_api_key", `{}`, xhr("Cookie", session)...)), 403)

		jwtLogin := func(body string) *http.Request {
			return request("POST", "/api/Account/login", body, "Content-Type", "application/json")
		}
		var login jwtLoginResponse
		w = wantStatus(t, a.do(jwtLogin(`{"email": "ann@example.com", "password": "password-ann"}`)), 200)
		if json.Unmarshal(w.Body.Bytes(), &login); login.User.ID != ann.ID {
			t.Errorf("JWT login: %s", w.Body)
		}
		wantStatus(t, a.doInvalid(jwtLogin(`{"email": `), "the body is not JSON"), 400)
		wantStatus(t, a.doInvalid(jwtLogin(`{"email": "ann@example.com"}`), "no password"), 400)
		wantStatus(t, a.do(jwtLogin(`{"email": "ann@example.com", "password": "wrong"}`)), 401)
		wantStatus(t, a.do(jwtLogin(`{"email": "ann@example.com", "password": "`+annReadOnly.Key+`"}`)), 403) // read-only key
		wantStatus(t, a.doOtherMethod(request("GET", "/api/Account/login", "")), 405)
		untilThrottled(t, func() *httptest.ResponseRecorder {
			return a.do(from("192.0.2.51:1234", jwtLogin(`{"email": "nobody@example.com", "password": "wrong"}`)))
		})

		wantStatus(t, a.do(request("GET", JWKSPath, "")), 200)
		wantStatus(t, a.do(request("HEAD", JWKSPath, "")), 200)
		wantStatus(t, a.doOtherMethod(request("POST", JWKSPath, "")), 405)
	})

	t.Run("forward-auth", func(t *testing.T) {
		a := check.in(t)
		verify := func(method, path string, header ...string) *http.Request { return request(method, path, "", header...) }
		for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"} {
			w := wantStatus(t, a.do(verify(m, "/auth/verify", "X-Forwarded-Method", m, "X-Forwarded-Uri", "/api/v1/projects", "Authorization", asAnn)), 200)
			if w.Header().Get(HeaderUser) != "ann" || w.Header().Get(HeaderMethod) != latchkey.MethodBasic {
				t.Errorf("%s: identity %v", m, w.Header())
			}
			// Envoy: the original path below the forward-auth path, the
			// original method the request's own; /optional admits anyone.
			if w := wantStatus(t, a.do(verify(m, "/auth/verify/optional")), 200); w.Header().Get(HeaderMethod) != latchkey.MethodAnonymous {
				t.Errorf("%s: identity %v", m, w.Header())
			}
		}
		wantStatus(t, a.do(verify("GET", "/auth/verify")), 400) // which request?
		wantStatus(t, a.do(verify("GET", "/auth/verify", "X-Forwarded-Uri", "/api/v1/a", "X-Original-URI", "/api/v1/b", "Authorization", asAnn)), 400)
		wantStatus(t, a.do(verify("GET", "/auth/verify", "X-Forwarded-Uri", "/api/v1/a", "X-Latchkey-Admin", "yes", "Authorization", asAnn)), 400)
		if w := wantStatus(t, a.do(verify("GET", "/auth/verify", "X-Forwarded-Uri", "/api/v1/projects")), 401); w.Header().Get("WWW-Authenticate") != basicChallenge {
			t.Errorf("401 without the Basic challenge: %v", w.Header())
		}
		if w := wantStatus(t, a.do(verify("GET", "/auth/verify", "X-Forwarded-Uri", "/api/data/x", "Authorization", "Bearer not-a-jwt")), 401); !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("401 without the Bearer challenge: %v", w.Header())
		}
		wantStatus(t, a.do(verify("GET", "/auth/verify", "X-Forwarded-Uri", "/admin/users", "Authorization", asPlain)), 403)
		if w := wantStatus(t, a.do(verify("GET", "/auth/verify", "X-Forwarded-Uri", "/qrs/about", "Authorization", asAnn)), 403); w.Body.String() != xrfkeyBody {
			t.Errorf("Xrfkey refusal: %q", w.Body)
		}
		wantStatus(t, a.do(verify("GET", "/auth/verify", "X-Forwarded-Uri", "/nowhere")), 404)
		wantStatus(t, a.do(verify("GET", "/auth/verify", "X-Forwarded-Uri", "/reader/x", "X-Forwarded-Method", "DELETE", "X-Api-Key", annKey.Key)), 405)
		untilThrottled(t, func() *httptest.ResponseRecorder {
			return a.do(from("192.0.2.52:1234", verify("GET", "/auth/verify", "X-Forwarded-Uri", "/api/v1/x", "Authorization", basic(`LAB\nobody`, "wrong"))))
		})
	})

	t.Run("operations", func(t *testing.T) {
		a := check.in(t)
		for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
			wantStatus(t, a.do(request("GET", p, "")), 200)
			wantStatus(t, a.do(request("HEAD", p, "")), 200)
		}
		down, err := New(testConfig(), Deps{Store: unreachableStore{f.st}, Log: quietLog()})
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, a.on(down.Handler()).do(request("GET", "/readyz", "")), 503)
		wantStatus(t, a.on(down.Handler()).do(request("HEAD", "/readyz", "")), 503)
	})

	t.Run("meta", func(t *testing.T) {
		a := check.in(t)
		w := wantStatus(t, a.do(request("GET", OpenAPIPath, "")), 200)
		if !bytes.Equal(w.Body.Bytes(), openAPIDocument) {
			t.Error("the served document is not openapi.json")
		}
		etag := w.Header().Get("ETag")
		wantStatus(t, a.do(request("GET", OpenAPIPath, "", "If-None-Match", etag)), 304)
		wantStatus(t, a.do(request("HEAD", OpenAPIPath, "")), 200)
		wantStatus(t, a.do(request("HEAD", OpenAPIPath, "", "If-None-Match", `W/"other", `+etag)), 304)
		wantStatus(t, a.do(request("GET", OpenAPIPath, "", "If-None-Match", `"other"`)), 200)
		// Over the wire, through the check as an http.Handler.
		srv := httptest.NewServer(a.Handler())
		defer srv.Close()
		for _, method := range []string{"GET", "HEAD"} {
			req, _ := http.NewRequest(method, srv.URL+OpenAPIPath, nil)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body := readAll(t, resp.Body)
			if resp.StatusCode != 200 || method == "GET" && body != string(openAPIDocument) || method == "HEAD" && body != "" {
				t.Errorf("%s over the wire: %d, %d bytes", method, resp.StatusCode, len(body))
			}
		}
		// Served with no credential service, no issuer, no routes.
		bare, err := New(testConfig(), Deps{Store: f.st, Log: quietLog()})
		if err != nil {
			t.Fatal(err)
		}
		if w := wantStatus(t, a.on(bare.Handler()).do(request("GET", OpenAPIPath, "")), 200); !bytes.Equal(w.Body.Bytes(), openAPIDocument) {
			t.Error("a bare gateway serves another document")
		}
	})

	t.Run("admin", func(t *testing.T) { testOpenAPIAdmin(t, check.in(t), f) })

	if !t.Failed() {
		check.checkCoverage()
	}
}

// recordingT is a testing.TB whose Errorf is recorded rather than failing
// the test, for the tests that the harness would fail a test.
type recordingT struct {
	testing.TB
	errs []string
}

func (r *recordingT) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *recordingT) Logf(string, ...any) {}
func (r *recordingT) Helper()             {}

// reported fails t unless the harness reported an error that contains want.
func (r *recordingT) reported(t *testing.T, want string) {
	t.Helper()
	for _, e := range r.errs {
		if strings.Contains(e, want) {
			return
		}
	}
	t.Errorf("the harness did not report %q; it reported %q", want, r.errs)
	r.errs = nil
}

// TestOpenAPICatchesDrift: answers that the code would give if a field, a
// header or a status changed fail the validation, as do requests that match
// no operation and a document whose operations were not all called.
func TestOpenAPICatchesDrift(t *testing.T) {
	f := newOpenAPIFixture(t)
	ann := f.addEmailUser("ann", "ann@example.com", latchkey.RoleAPIKeyUser)
	a := newAPICheck(t, f.s.Handler())

	// Real answers, then each changed as a drifting code would change it.
	gen := request("POST", "/api/v1/api_keys/generate_api_key", `{"name": "ci"}`, xhr("Authorization", basic(`LAB\ann`, "password-ann"))...)
	genBody := readBody(t, gen)
	genAnswer := wantStatus(t, a.do(withBody(gen, genBody)), 200)
	login := request("POST", "/api/v1/login", `{"username": "LAB\\ann", "password": "password-ann"}`, xhr()...)
	loginBody := readBody(t, login)
	loginAnswer := wantStatus(t, a.do(withBody(login, loginBody)), 200)
	exchange := request("POST", "/login/jwt-session", "")
	exchangeAnswer := wantStatus(t, a.doInvalid(withBody(exchange, nil), "no bearer token"), 401)
	opened := request("POST", "/login/jwt-session", "", "Authorization", "Bearer "+f.cloudToken("carol", nil))
	openedAnswer := wantStatus(t, a.do(withBody(opened, nil)), 200)
	jwks := request("GET", JWKSPath, "")
	jwksAnswer := wantStatus(t, a.do(withBody(jwks, nil)), 200)
	verify := request("GET", "/auth/verify", "", "X-Forwarded-Uri", "/api/v1/x", "X-Api-Key", f.key(ann, false).Key)
	verifyAnswer := wantStatus(t, a.do(withBody(verify, nil)), 200)

	tests := []struct {
		name   string
		r      *http.Request
		body   []byte
		answer *httptest.ResponseRecorder
		drift  func(status *int, h http.Header, body string) string
		want   string // in the validator's message
	}{
		{"a key view's id renamed key_id", gen, genBody, genAnswer, func(_ *int, _ http.Header, b string) string {
			return strings.Replace(b, `"id":`, `"key_id":`, 1)
		}, "key_id"},
		{"a key view without owner_id", gen, genBody, genAnswer, func(_ *int, _ http.Header, b string) string {
			var m map[string]any
			json.Unmarshal([]byte(b), &m)
			delete(m, "owner_id")
			out, _ := json.Marshal(m)
			return string(out)
		}, "owner_id"},
		{"a key view's expiry as epoch seconds", gen, genBody, genAnswer, func(_ *int, _ http.Header, b string) string {
			var m map[string]any
			json.Unmarshal([]byte(b), &m)
			m["expires"] = 1729903436
			out, _ := json.Marshal(m)
			return string(out)
		}, "expires"},
		{"the key answered without no-store", gen, genBody, genAnswer, func(_ *int, h http.Header, b string) string {
			h.Del("Cache-Control")
			return b
		}, "Cache-Control"},
		{"the login with a field more", login, loginBody, loginAnswer, func(_ *int, _ http.Header, b string) string {
			return strings.Replace(b, `"success": true`, `"success": true, "token": "x"`, 1)
		}, "token"},
		{"the login's cookie without HttpOnly", login, loginBody, loginAnswer, func(_ *int, h http.Header, b string) string {
			h.Set("Set-Cookie", strings.Replace(h.Get("Set-Cookie"), " HttpOnly;", "", 1))
			return b
		}, "Set-Cookie"},
		{"the login without X-Session-Id", login, loginBody, loginAnswer, func(_ *int, h http.Header, b string) string {
			h.Del("X-Session-Id")
			return b
		}, "X-Session-Id"},
		{"the login answering an undocumented status", login, loginBody, loginAnswer, func(s *int, _ http.Header, b string) string {
			*s = http.StatusConflict
			return b
		}, "409"},
		{"a Qlik error in latchkey's shape", exchange, nil, exchangeAnswer, func(*int, http.Header, string) string {
			return `{"error": {"code": "unauthorized", "message": "Send the JWT."}}`
		}, "error"},
		{"a Qlik error whose status disagrees", exchange, nil, exchangeAnswer, func(_ *int, _ http.Header, b string) string {
			return strings.Replace(b, `"status": "401"`, `"status": "400"`, 1)
		}, "status"},
		{"the exchange's CSRF cookie without Secure", opened, nil, openedAnswer, func(_ *int, h http.Header, b string) string {
			c := h.Values("Set-Cookie")
			h["Set-Cookie"] = []string{c[0], strings.Replace(c[1], " Secure;", "", 1)}
			return b
		}, "Set-Cookie value 2 of 2"},
		{"a JWKS that leaks a private key", jwks, nil, jwksAnswer, func(_ *int, _ http.Header, b string) string {
			return strings.Replace(b, `"kty":`, `"d":"c2VjcmV0","kty":`, 1)
		}, "'d'"},
		{"a forward-auth answer without an identity header", verify, nil, verifyAnswer, func(_ *int, h http.Header, b string) string {
			h.Del(HeaderKeyID)
			return b
		}, HeaderKeyID},
		{"a forward-auth answer with a body", verify, nil, verifyAnswer, func(_ *int, _ http.Header, b string) string {
			return `{"allowed": true}`
		}, "no body"},
	}
	for _, tt := range tests {
		route, params, err := a.d.router.FindRoute(withBody(tt.r, tt.body))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		status, h := tt.answer.Code, tt.answer.Header().Clone()
		body := tt.drift(&status, h, tt.answer.Body.String())
		err = a.validateResponse(withBody(tt.r, tt.body), route, params, status, h, []byte(body))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: the validator says %v; want an error about %s", tt.name, err, tt.want)
		}
	}

	// Requests: one the document does not know, one that breaks it
	// though the test says it is as documented, one that the test says
	// breaks it though it does not, another method on a path without
	// x-other-methods.
	rt := &recordingT{TB: t}
	b := newAPICheck(rt, f.s.Handler())
	b.do(request("GET", "/api/v1/unknown", ""))
	rt.reported(t, "matches no operation")
	b.do(request("POST", "/api/v1/login", `{"username": "LAB\\ann", "password": "x", "remember": true}`, xhr()...))
	rt.reported(t, "does not match the document")
	b.doInvalid(request("GET", "/healthz", ""), "nothing")
	rt.reported(t, "but the document accepts it")
	b.doOtherMethod(request("DELETE", "/healthz", ""))
	rt.reported(t, "no x-other-methods")

	// Coverage: a check that called one operation misses all the others.
	b.checkCoverage()
	rt.reported(t, "POST /api/v1/login is documented but was not called")
	rt.reported(t, "TRACE /auth/verify/{originalPath} is documented but was not called")
}
