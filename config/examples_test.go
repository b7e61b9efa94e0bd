package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExamples loads every configuration in examples/: each must be valid
// for a build with the session, basic, apikey, jwt and cert methods.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob("../examples/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("found %d examples in ../examples, want at least 2", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c, err := Load(f, Options{AuthMethods: []string{"session", "basic", "apikey", "jwt", "cert"},
				Getenv: func(string) string { return "" }})
			if err != nil {
				t.Fatalf("%v", err)
			}
			if len(c.Routes) == 0 {
				t.Error("the example has no routes")
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(b), "# ") {
				t.Error("the example does not start with a comment that says what it is for")
			}
		})
	}
}

// TestExamplesJournyx checks that examples/journyx.yaml says what seed 004
// needs.
func TestExamplesJournyx(t *testing.T) {
	c, err := Load("../examples/journyx.yaml", Options{AuthMethods: []string{"session", "basic", "apikey", "jwt"},
		Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	if c.Sessions.Cookie != "wtsession" || c.Login.Path != "/api/v1/login" ||
		len(c.Login.AllowedOrigins) != 1 || c.Login.AllowedOrigins[0] != "example.apps.journyx.com" {
		t.Errorf("sessions %+v, login %+v", c.Sessions, c.Login)
	}
	r := c.Routes[0]
	if r.Prefix != "/api/v1/" || r.Upstream != Echo || strings.Join(r.Auth, ",") != "session,basic" {
		t.Errorf("route %+v", r)
	}
}

// TestExamplesAPIKey checks that examples/api-key.yaml says what seed 002's
// key half needs.
func TestExamplesAPIKey(t *testing.T) {
	c, err := Load("../examples/api-key.yaml", Options{AuthMethods: []string{"session", "basic", "apikey", "jwt"},
		Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	r := c.Routes[0]
	if c.APIKeys.Header != "X-Api-Key" || r.Prefix != "/api/" || strings.Join(r.Auth, ",") != "apikey" || r.AllowAnonymous {
		t.Errorf("api_keys %+v, route %+v", c.APIKeys, r)
	}
}

// TestExamplesQlikQRS checks that examples/qlik-qrs-certificates.yaml says
// what seed 003 needs.
func TestExamplesQlikQRS(t *testing.T) {
	c, err := Load("../examples/qlik-qrs-certificates.yaml", Options{AuthMethods: []string{"cert"},
		Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	l, r := c.Listeners[0], c.Routes[0]
	if l.Address != "127.0.0.1:4242" || l.TLS.ClientAuth != "require" ||
		l.TLS.ClientCAFile != filepath.Join("..", "examples", "qlik-qrs-certificates", "certs", "root.pem") || filepath.Base(l.TLS.CertFile) != "server.pem" {
		t.Errorf("listener %+v", l)
	}
	if r.Prefix != "/qrs/" || strings.Join(r.Auth, ",") != "cert" || !r.Xrfkey || strings.Join(r.Listeners, ",") != l.Name {
		t.Errorf("route %+v", r)
	}
	if strings.Join(c.Certificates.Trusted, ",") != "cn:QlikClient" || c.Certificates.ImpersonationHeader != "X-Qlik-User" ||
		c.Certificates.Directory != "INTERNAL" {
		t.Errorf("certificates %+v", c.Certificates)
	}
}

// TestExamplesOwnKeyDirectories checks that each example reads the keys and
// certificates its commands make from a directory of its own,
// examples/NAME/ (which examples/.gitignore keeps out of git), so that
// following one example never clashes with the files of another.
func TestExamplesOwnKeyDirectories(t *testing.T) {
	files, err := filepath.Glob("../examples/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ignore, err := os.ReadFile("../examples/.gitignore")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/*/keys/", "/*/certs/"} {
		if !strings.Contains(string(ignore), want+"\n") {
			t.Errorf("examples/.gitignore does not ignore %s", want)
		}
	}
	for _, f := range files {
		c, err := Load(f, Options{AuthMethods: []string{"session", "basic", "apikey", "jwt", "cert"},
			Getenv: func(string) string { return "" }})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		own := filepath.Join("../examples", strings.TrimSuffix(filepath.Base(f), ".yaml"))
		var paths []string
		for _, v := range c.JWT.Verifiers {
			for _, k := range v.Keys {
				paths = append(paths, k.File)
			}
		}
		for _, l := range c.Listeners {
			paths = append(paths, l.TLS.CertFile, l.TLS.KeyFile, l.TLS.ClientCAFile)
		}
		for _, p := range paths {
			if p == "" {
				continue
			}
			sub := filepath.Base(filepath.Dir(p))
			if filepath.Dir(filepath.Dir(p)) != own || (sub != "keys" && sub != "certs") {
				t.Errorf("%s reads %s, not from %s/keys or %s/certs", filepath.Base(f), p, own, own)
			}
		}
	}
}
