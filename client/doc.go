// Package client is the client half of latchkey: http.RoundTrippers that
// authenticate a Go program's requests the way the APIs that latchkey
// fronts expect to be called (Qlik Sense and Qlik Cloud, Quantamatics,
// Journyx), whether latchkey or the real API answers.
//
// # Building a client
//
// Every transport wraps the next one. At the bottom is a [Transport] from
// [NewTransport], which decides whom to trust over TLS; above it one
// credential transport; on top, for Qlik, [Xrfkey]. Give the top one to an
// http.Client:
//
//	base, err := client.NewTransport(client.Options{CACertFile: "root.pem"})
//	if err != nil { … }
//	rt := client.Xrfkey(client.Bearer(token, base))
//	c := &http.Client{Transport: rt, Timeout: time.Minute}
//	resp, err := c.Get("https://qliksense.example.com/jwt/qrs/about")
//
// A nil next stands for a [Transport] with the zero [Options]: the system's
// CAs, HTTPS only. Every transport is safe for concurrent use, and clones a
// request before changing it, as an http.RoundTripper must.
//
// # Methods
//
// One constructor for each way of proving who one is, with the seed (in
// latchkey's shared/seeds) whose wire contract it follows:
//
//	Method                                       Constructor                    Seed
//	-------------------------------------------  -----------------------------  ----
//	JWT bearer, a fixed token                    Bearer                         000, 002
//	JWT bearer, minted per request from a key    MintedBearer + QSEoWMinter     000 (QSEoW)
//	Xrfkey on every request                      Xrfkey                         000, 001, 003
//	API key in a header                          APIKey, APIKeyHeader           002
//	HTTP Basic (password or API key)             Basic                          004
//	login, then the session cookie               Login                          004
//	login for a JWT, then the bearer token       JWTLogin, JWTLoginConfig.Token 002
//	JWT exchanged for a session, with CSRF       JWTSession + CloudMinter       000 (Qlik Cloud)
//	client certificate and X-Qlik-User           Options.CertFile + QlikUser    003
//
// Bearer, APIKey, Basic and QlikUser add a header to every request.
// MintedBearer signs a new short-lived token for each request with a
// [Minter]: [QSEoWMinter] for a QSEoW JWT virtual proxy (claims userId,
// userDirectory, …, no kid), [CloudMinter] for Qlik Cloud (kid, a fresh
// jti, …), both built on package jwtmint with a key from [LoadSigner] — the
// privatekey.pem of "latchkey jwt create --cert-create".
//
// Login, JWTLogin and JWTSession log in (or exchange the token) before the
// first request, keep what they get, and do it again when it expires or
// once when the server answers 401, then send the request again if its
// body can be replayed (see [Login]). Login adds seed 004's Origin, Accept
// and X-Requested-With headers to unsafe requests (POST, PUT, PATCH,
// DELETE), and [LoginTransport.Logout] ends the session. JWTSession echoes
// the CSRF cookie in the qlik-csrf-token header on unsafe requests; it
// needs a Minter to open a new session, since a token's jti opens one
// session only.
//
// Certificates are a matter of TLS, so they are [Options]: CertFile and
// KeyFile (client.pem, client_key.pem) and CACertFile (root.pem). [QlikUser]
// names, in "X-Qlik-User: UserDirectory=…; UserId=…", the user that a
// trusted certificate acts as.
//
// # Safe defaults
//
//   - TLS is verified, against the system's CAs or Options.CACertFile.
//     Options.InsecureSkipVerify turns the check off, for a test server.
//   - No credential goes over plain HTTP: a credential transport refuses an
//     http:// URL with an error wrapping [ErrPlainHTTP], before sending
//     anything, unless the chain below allows it (Options.AllowPlainHTTP,
//     or [AllowPlainHTTP] around a transport of one's own).
//   - Credentials are not added to a redirect that leaves the origin
//     (scheme, host and port) of the request the caller made; cookies go
//     only where their cookie rules send them.
//   - No error of this package holds a password, key or token: a server's
//     message that repeats one is left out. The transports and the Config
//     types print without their secrets too (String, GoString).
//
// # From the shell
//
// "latchkey call" is a curl-like command built on this package, with one
// flag group for each method: --xrfkey, --bearer, --jwt-key (with
// --userid, --userdir, …), --api-key, --basic, --login with --login-url or
// --jwt-login, --jwt-session, --cert, --key, --cacert and --qlik-user.
package client
