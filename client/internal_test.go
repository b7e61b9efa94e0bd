package client

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestServerMessage(t *testing.T) {
	tests := map[string]string{
		`{"error":{"code":"unauthorized","message":"The username or password is not correct."}}`:                         "The username or password is not correct.",
		`{"errors":[{"code":"invalid","title":"Bad Request","detail":"The bearer token is not a JWT.","status":"400"}]}`: "The bearer token is not a JWT.",
		`{"errors":[{"title":"Unauthorized"}]}`:                     "Unauthorized",
		`{"message":"nope"}`:                                        "nope",
		`{"error":"invalid_grant"}`:                                 "invalid_grant",
		"XSRF prevention check failed. Possible XSRF discovered.\n": "XSRF prevention check failed. Possible XSRF discovered.",
		"<html><body>Bad gateway</body></html>":                     "",
		"":                                                          "",
		`{"error":{"message":"` + strings.Repeat("x", 400) + `"}}`: strings.Repeat("x", 300) + "…",
		"{\"error\":{\"message\":\"two\\n  lines\"}}":              "two lines",
	}
	for body, want := range tests {
		if got := serverMessage([]byte(body)); got != want {
			t.Errorf("serverMessage(%.60q) = %q, want %q", body, got, want)
		}
	}
}

func TestSessionExpires(t *testing.T) {
	if got := sessionExpires("1729903436.26, 2024-10-25T19:43:56.264769, 102000.00"); !got.Equal(time.UnixMilli(1729903436260)) {
		t.Errorf("seed 004's X-Session-Expires: %v", got)
	}
	for _, h := range []string{"", "soon", "-1, x"} {
		if got := sessionExpires(h); !got.IsZero() {
			t.Errorf("sessionExpires(%q) = %v", h, got)
		}
	}
}

func TestCarriesCredentials(t *testing.T) {
	req := func(u string, prev *http.Request) *http.Request {
		r, _ := http.NewRequest("GET", u, nil)
		if prev != nil {
			r.Response = &http.Response{Request: prev}
		}
		return r
	}
	first := req("https://API.example.com:443/a", nil)
	tests := []struct {
		r    *http.Request
		want bool
	}{
		{first, true},
		{req("https://api.example.com/b", first), true},
		{req("https://api.example.com:8443/b", first), false},
		{req("http://api.example.com/b", first), false},
		{req("https://evil.example.com/b", first), false},
		{req("https://api.example.com/c", req("https://evil.example.com/b", first)), true},
		{req("https://api.example.com/c", &http.Request{URL: &url.URL{}, Response: &http.Response{}}), false},
	}
	for i, tt := range tests {
		if got := carriesCredentials(tt.r); got != tt.want {
			t.Errorf("%d: carriesCredentials(%s) = %v", i, tt.r.URL, got)
		}
	}
}

func TestFormatQlikUser(t *testing.T) {
	for _, tt := range [][3]string{
		{"INTERNAL", "sa_repository", "UserDirectory=INTERNAL; UserId=sa_repository"},
		{"LAB", "Göran Sander", "UserDirectory=LAB; UserId=G%C3%B6ran%20Sander"},
		{"A;B", "x=y", "UserDirectory=A%3BB; UserId=x=y"},
	} {
		if got := FormatQlikUser(tt[0], tt[1]); got != tt[2] {
			t.Errorf("FormatQlikUser(%q, %q) = %q, want %q", tt[0], tt[1], got, tt[2])
		}
	}
}
