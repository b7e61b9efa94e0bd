package client_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey/client"
	"github.com/latchkey/latchkey/jwtmint"
	"github.com/latchkey/latchkey/xrfkey"
)

// The examples call startAPI, a stand-in for "latchkey serve" (see
// fake_test.go) on https://127.0.0.1:PORT whose certificate is in
// api.CAFile, and which answers who the caller is: "LAB\goran via jwt".
// Against the real thing, api.URL is the gateway's URL and api.CAFile its
// certificate (latchkey-data/tls/server.pem for the development one,
// root.pem for Qlik's).

// Seed 000's call to a Qlik Sense Enterprise JWT virtual proxy: a JWT
// minted for each request with the key whose certificate the proxy trusts,
// and a fresh Xrfkey on each request.
func Example() {
	api := startAPI()
	defer api.Close()

	base, err := client.NewTransport(client.Options{CACertFile: api.CAFile})
	if err != nil {
		log.Fatal(err)
	}
	// privatekey.pem, as "latchkey jwt create qseow --cert-create" writes it.
	signer, err := client.LoadSigner(files.PrivateKey, "")
	if err != nil {
		log.Fatal(err)
	}
	minter, err := client.QSEoWMinter(signer, jwtmint.QSEoW{
		UserDirectory: "LAB", UserID: "goran", Name: "Göran Sander", Audience: "abc123",
		Expires: 5 * time.Minute,
	})
	if err != nil {
		log.Fatal(err)
	}
	c := &http.Client{Transport: client.Xrfkey(client.MintedBearer(minter, base)), Timeout: time.Minute}

	show(c.Get(api.URL + "/jwt/qrs/about"))
	// Output: 200 LAB\goran via jwt
}

// The base transport trusts the CA in CACertFile, and refuses to send
// credentials over plain HTTP.
func ExampleNewTransport() {
	api := startAPI()
	defer api.Close()

	base, err := client.NewTransport(client.Options{
		CACertFile: api.CAFile, // root.pem, or latchkey-data/tls/server.pem
		// CertFile: "client.pem", KeyFile: "client_key.pem", // a client certificate
	})
	if err != nil {
		log.Fatal(err)
	}
	c := &http.Client{Transport: client.Basic("apiuser", "a long password", base)}
	show(c.Get(api.URL + "/api/v1/projects"))

	_, err = c.Get(strings.Replace(api.URL, "https://", "http://", 1) + "/api/v1/projects")
	fmt.Println(errors.Is(err, client.ErrPlainHTTP))

	// Without CACertFile, the system's CAs do not know the server.
	strict, _ := client.NewTransport(client.Options{})
	_, err = (&http.Client{Transport: strict}).Get(api.URL + "/api/v1/projects")
	var unknown *tls.CertificateVerificationError
	fmt.Println(errors.As(err, &unknown))
	// Output:
	// 200 LOCAL\apiuser via basic
	// true
	// true
}

// AllowPlainHTTP lets credentials go to an http:// URL through a transport
// of one's own, here http.DefaultTransport; for a Transport, set
// Options.AllowPlainHTTP instead.
func ExampleAllowPlainHTTP() {
	api := startAPI()
	defer api.Close()
	plain := httptest.NewServer(api.Config.Handler) // the same API, over plain HTTP
	defer plain.Close()

	refused := client.Basic("apiuser", "a long password", http.DefaultTransport)
	_, err := (&http.Client{Transport: refused}).Get(plain.URL + "/api/v1/projects")
	fmt.Println(errors.Is(err, client.ErrPlainHTTP))

	allowed := client.Basic("apiuser", "a long password", client.AllowPlainHTTP(http.DefaultTransport))
	show((&http.Client{Transport: allowed}).Get(plain.URL + "/api/v1/projects"))
	// Output:
	// true
	// 200 LOCAL\apiuser via basic
}

// Xrfkey adds a new key to each request, as the Xrfkey query parameter and
// the X-Qlik-Xrfkey header, which Qlik's APIs check are equal.
func ExampleXrfkey() {
	api := startAPI()
	defer api.Close()
	base, err := client.NewTransport(client.Options{CACertFile: api.CAFile})
	if err != nil {
		log.Fatal(err)
	}
	c := &http.Client{Transport: client.Xrfkey(client.APIKey(demoAPIKey, base))}

	show(c.Get(api.URL + "/qrs/about?filter=name"))
	r := api.lastRequest()
	fmt.Println(xrfkey.Check(r), r.URL.Query().Get("filter"), len(r.Header.Get("X-Qlik-Xrfkey")))

	// Without it, Qlik (and latchkey's xrfkey routes) refuse.
	show((&http.Client{Transport: client.APIKey(demoAPIKey, base)}).Get(api.URL + "/qrs/about"))
	// Output:
	// 200 LOCAL\apiuser via apikey
	// true name 16
	// 403 XSRF prevention check failed. Possible XSRF discovered.
}

// A fixed token, such as one that "latchkey jwt create qseow
// --minimal-output" printed.
func ExampleBearer() {
	api := startAPI()
	defer api.Close()
	base, err := client.NewTransport(client.Options{CACertFile: api.CAFile})
	if err != nil {
		log.Fatal(err)
	}
	signer, _ := client.LoadSigner(files.PrivateKey, "")
	token, _, _ := jwtmint.QSEoW{UserDirectory: "LAB", UserID: "goran", Audience: "abc123", Expires: time.Hour}.Mint(signer)

	c := &http.Client{Transport: client.Xrfkey(client.Bearer(token, base))}
	show(c.Get(api.URL + "/jwt/qrs/about"))
	// Output: 200 LAB\goran via jwt
}

// Any Minter will do: here a MinterFunc that mints with package jwtmint
// directly, adding a claim of its own.
func ExampleMintedBearer() {
	api := startAPI()
	defer api.Close()
	base, err := client.NewTransport(client.Options{CACertFile: api.CAFile})
	if err != nil {
		log.Fatal(err)
	}
	signer, err := client.LoadSigner(files.PrivateKey, "")
	if err != nil {
		log.Fatal(err)
	}
	minter := client.MinterFunc(func() (string, error) {
		tok, _, err := jwtmint.QSEoW{UserDirectory: "LAB", UserID: "goran", Audience: "abc123",
			Expires: time.Minute, Extra: []jwtmint.Claim{{Name: "purpose", Value: "nightly export"}}}.Mint(signer)
		return tok, err
	})
	c := &http.Client{Transport: client.Xrfkey(client.MintedBearer(minter, base))}

	show(c.Get(api.URL + "/jwt/qrs/about"))
	_, claims, _ := jwtmint.Decode(strings.TrimPrefix(api.lastRequest().Header.Get("Authorization"), "Bearer "))
	fmt.Println(claims["purpose"])
	// Output:
	// 200 LAB\goran via jwt
	// nightly export
}

// The tokens QSEoWMinter makes carry Qlik's claims, and no kid.
func ExampleQSEoWMinter() {
	signer, err := client.LoadSigner(files.PrivateKey, "")
	if err != nil {
		log.Fatal(err)
	}
	m, err := client.QSEoWMinter(signer, jwtmint.QSEoW{UserDirectory: "LAB", UserID: "goran", Audience: "abc123"})
	if err != nil {
		log.Fatal(err)
	}
	tok, err := m.Mint()
	if err != nil {
		log.Fatal(err)
	}
	header, claims, _ := jwtmint.Decode(tok)
	fmt.Println(header["alg"], header["kid"])
	fmt.Println(slices.Sorted(maps.Keys(claims)))
	exp, _ := claims["exp"].(json.Number).Int64()
	iat, _ := claims["iat"].(json.Number).Int64()
	fmt.Println(time.Duration(exp-iat) * time.Second) // DefaultMintExpiry

	_, err = client.QSEoWMinter(signer, jwtmint.QSEoW{UserID: "goran"})
	fmt.Println(err)
	// Output:
	// RS256 <nil>
	// [aud email exp iat name userDirectory userId]
	// 5m0s
	// client: a QSEoW token needs a user directory (userDirectory)
}

// The tokens CloudMinter makes have a kid and a new jti each, as Qlik
// Cloud's /login/jwt-session wants them.
func ExampleCloudMinter() {
	signer, err := client.LoadSigner(files.PrivateKey, "")
	if err != nil {
		log.Fatal(err)
	}
	m, err := client.CloudMinter(signer, jwtmint.Cloud{
		Subject: "auth0|a08D000001", Name: "Ann Andersson", Email: "ann@example.com",
		Issuer: "https://idp.example.com", KeyID: "0330d3e7-1966-41c4-b3ef-d311d1ff7191",
	})
	if err != nil {
		log.Fatal(err)
	}
	t1, _ := m.Mint()
	t2, _ := m.Mint()
	h, c1, _ := jwtmint.Decode(t1)
	_, c2, _ := jwtmint.Decode(t2)
	fmt.Println(h["kid"], c1["aud"], c1["sub"])
	fmt.Println(c1["jti"] != c2["jti"])
	// Output:
	// 0330d3e7-1966-41c4-b3ef-d311d1ff7191 qlik.api/login/jwt-session auth0|a08D000001
	// true
}

// LoadSigner picks the algorithm from the key when none is given.
func ExampleLoadSigner() {
	signer, err := client.LoadSigner(files.PrivateKey, "")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(signer.Algorithm())
	_, err = client.LoadSigner(files.PrivateKey, "ES256")
	fmt.Println(err != nil)
	// Output:
	// RS256
	// true
}

// Seed 002's static key in X-Api-Key.
func ExampleAPIKey() {
	api := startAPI()
	defer api.Close()
	base, err := client.NewTransport(client.Options{CACertFile: api.CAFile})
	if err != nil {
		log.Fatal(err)
	}
	c := &http.Client{Transport: client.APIKey(demoAPIKey, base)}
	show(c.Get(api.URL + "/api/data/endpoint"))
	show((&http.Client{Transport: client.APIKey("lk_wrong", base)}).Get(api.URL + "/api/data/endpoint"))
	// Output:
	// 200 LOCAL\apiuser via apikey
	// 401 {"error":{"code":"x","message":"The API key is not valid."}}
}

// A key in a header of another name (latchkey's api_keys.header).
func ExampleAPIKeyHeader() {
	api := startAPI()
	defer api.Close()
	base, err := client.NewTransport(client.Options{CACertFile: api.CAFile})
	if err != nil {
		log.Fatal(err)
	}
	c := &http.Client{Transport: client.APIKeyHeader("X-Api-Key", demoAPIKey, base)}
	show(c.Get(api.URL + "/api/data/endpoint"))
	// Output: 200 LOCAL\apiuser via apikey
}

// Seed 004's HTTP Basic, with a password or an API key as the password.
func ExampleBasic() {
	api := startAPI()
	defer api.Close()
	base, err := client.NewTransport(client.Options{CACertFile: api.CAFile})
	if err != nil {
		log.Fatal(err)
	}
	show((&http.Client{Transport: client.Basic("apiuser", "a long password", base)}).Get(api.URL + "/api/v1/projects"))
	show((&http.Client{Transport: client.Basic("apiuser", demoAPIKey, base)}).Get(api.URL + "/api/v1/projects"))
	// Output:
	// 200 LOCAL\apiuser via basic
	// 200 LOCAL\apiuser via basic
}

// Seed 004's login: one POST for a session cookie, then the cookie on every
// request, with the required headers on unsafe ones; a new login when the
// session ends.
func ExampleLogin() {
	api := startAPI()
	defer api.Close()
	base, err := client.NewTransport(client.Options{CACertFile: api.CAFile})
	if err != nil {
		log.Fatal(err)
	}
	login, err := client.Login(client.LoginConfig{
		URL:      api.URL + "/api/v1/login",
		Username: "apiuser",
		Password: "a long password", // or an API key
		Origin:   "example.apps.journyx.com",
	}, base)
	if err != nil {
		log.Fatal(err)
	}
	c := &http.Client{Transport: login}

	show(c.Get(api.URL + "/api/v1/projects"))
	show(c.Post(api.URL+"/api/v1/projects", "application/json", strings.NewReader(`{"name": "x"}`)))
	api.revokeAll() // "latchkey session revoke", an idle timeout, …
	show(c.Post(api.URL+"/api/v1/projects", "application/json", strings.NewReader(`{"name": "y"}`)))
	fmt.Println("logins:", api.loginCount())
	// Output:
	// 200 LOCAL\apiuser via session
	// 200 LOCAL\apiuser via session
	// 200 LOCAL\apiuser via session
	// logins: 2
}

// Logout ends the session at the server; the next request logs in again.
func ExampleLoginTransport_Logout() {
	api := startAPI()
	defer api.Close()
	base, err := client.NewTransport(client.Options{CACertFile: api.CAFile})
	if err != nil {
		log.Fatal(err)
	}
	login, err := client.Login(client.LoginConfig{URL: api.URL + "/api/v1/login", Username: "apiuser", Password: "a long password"}, base)
	if err != nil {
		log.Fatal(err)
	}
	c := &http.Client{Transport: login}
	show(c.Get(api.URL + "/api/v1/projects"))
	fmt.Println(login.Logout(context.Background()), api.lastRequest().URL.Path)
	// Output:
	// 200 LOCAL\apiuser via session
	// <nil> /api/v1/logout
}

// Seed 002's login for a JWT, then the token as a bearer; a new login when
// it expires or is refused.
func ExampleJWTLogin() {
	api := startAPI()
	defer api.Close()
	base, err := client.NewTransport(client.Options{CACertFile: api.CAFile})
	if err != nil {
		log.Fatal(err)
	}
	rt, err := client.JWTLogin(client.JWTLoginConfig{
		URL: api.URL + "/api/Account/login", Email: "analyst@example.com", Password: "a long password",
	}, base)
	if err != nil {
		log.Fatal(err)
	}
	c := &http.Client{Transport: rt}
	show(c.Get(api.URL + "/api/data/endpoint"))
	api.revokeAll()
	show(c.Get(api.URL + "/api/data/endpoint"))
	fmt.Println("logins:", api.loginCount())
	// Output:
	// 200 LOCAL\analyst via jwt
	// 200 LOCAL\analyst via jwt
	// logins: 2
}

// The token of seed 002's login, once, for Bearer or for a script. A wrong
// password is an error that does not repeat it.
func ExampleJWTLoginConfig_Token() {
	api := startAPI()
	defer api.Close()
	base, err := client.NewTransport(client.Options{CACertFile: api.CAFile})
	if err != nil {
		log.Fatal(err)
	}
	cfg := client.JWTLoginConfig{URL: api.URL + "/api/Account/login", Email: "analyst@example.com", Password: "a long password"}
	token, err := cfg.Token(context.Background(), base)
	if err != nil {
		log.Fatal(err)
	}
	show((&http.Client{Transport: client.Bearer(token, base)}).Get(api.URL + "/api/data/endpoint"))

	cfg.Password = "not my password"
	_, err = cfg.Token(context.Background(), base)
	var status *client.StatusError
	fmt.Println(errors.As(err, &status), status.StatusCode, strings.Contains(err.Error(), cfg.Password))
	// Output:
	// 200 LOCAL\analyst via jwt
	// true 401 false
}

// Seed 000's Qlik Cloud flow: a JWT exchanged for session cookies, the
// CSRF cookie echoed in qlik-csrf-token on unsafe requests, and a new token
// (a new jti) exchanged when the session ends.
func ExampleJWTSession() {
	api := startAPI()
	defer api.Close()
	base, err := client.NewTransport(client.Options{CACertFile: api.CAFile})
	if err != nil {
		log.Fatal(err)
	}
	signer, err := client.LoadSigner(files.PrivateKey, "")
	if err != nil {
		log.Fatal(err)
	}
	minter, err := client.CloudMinter(signer, jwtmint.Cloud{
		Subject: "auth0|a08D000001", Name: "Ann Andersson", Email: "ann@example.com",
		Issuer: "https://idp.example.com", KeyID: "0330d3e7-1966-41c4-b3ef-d311d1ff7191",
	})
	if err != nil {
		log.Fatal(err)
	}
	rt, err := client.JWTSession(client.JWTSessionConfig{URL: api.URL + "/login/jwt-session", Minter: minter}, base)
	if err != nil {
		log.Fatal(err)
	}
	c := &http.Client{Transport: rt}

	show(c.Get(api.URL + "/api/v1/spaces"))
	show(c.Post(api.URL+"/api/v1/spaces", "application/json", strings.NewReader(`{"name": "x"}`)))
	api.revokeAll()
	show(c.Get(api.URL + "/api/v1/spaces"))
	fmt.Println("exchanges:", api.loginCount())
	// Output:
	// 200 QLIKCLOUD\auth0|a08D000001 via session
	// 200 QLIKCLOUD\auth0|a08D000001 via session
	// 200 QLIKCLOUD\auth0|a08D000001 via session
	// exchanges: 2
}

// Seed 003's call to Qlik's QRS: a client certificate, the user to act as
// in X-Qlik-User, and an Xrfkey.
func ExampleQlikUser() {
	api := startAPI()
	defer api.Close()
	base, err := client.NewTransport(client.Options{
		CACertFile: api.CAFile,                                 // root.pem
		CertFile:   files.ClientCert, KeyFile: files.ClientKey, // client.pem, client_key.pem
	})
	if err != nil {
		log.Fatal(err)
	}
	c := &http.Client{Transport: client.Xrfkey(client.QlikUser("Internal", "sa_repository", base))}
	show(c.Get(api.URL + "/qrs/about/"))
	fmt.Println(api.lastRequest().Header.Get("X-Qlik-User"))

	// Without X-Qlik-User the certificate stands for itself.
	show((&http.Client{Transport: client.Xrfkey(base)}).Get(api.URL + "/qrs/about/"))
	// Output:
	// 200 INTERNAL\sa_repository via cert
	// UserDirectory=Internal; UserId=sa_repository
	// 200 INTERNAL\QlikClient via cert
}

func ExampleFormatQlikUser() {
	fmt.Println(client.FormatQlikUser("LAB", "Göran Sander"))
	// Output: UserDirectory=LAB; UserId=G%C3%B6ran%20Sander
}
