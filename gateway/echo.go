package gateway

import (
	"net/http"

	"github.com/latchkey/latchkey"
)

// echoHandler is the built-in upstream: it answers JSON that describes the
// caller as latchkey authenticated them, and the request as an upstream would
// receive it.
type echoHandler struct{ route string }

type echoBody struct {
	Authenticated bool                `json:"authenticated"`
	Principal     *latchkey.Principal `json:"principal"`
	Request       echoRequest         `json:"request"`
	Headers       map[string]string   `json:"identity_headers"`
}

type echoRequest struct {
	Route      string `json:"route"`
	Method     string `json:"method"`
	Path       string `json:"path"`
	Query      string `json:"query,omitempty"`
	Host       string `json:"host"`
	RemoteAddr string `json:"remote_addr"`
}

func (e echoHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := PrincipalFrom(r.Context())
	h := http.Header{}
	setIdentity(h, p)
	headers := make(map[string]string, len(h))
	for k := range h {
		headers[k] = h.Get(k)
	}
	writeJSON(w, http.StatusOK, echoBody{
		Authenticated: !p.IsAnonymous(),
		Principal:     p,
		Request: echoRequest{
			Route:      e.route,
			Method:     r.Method,
			Path:       r.URL.Path,
			Query:      r.URL.RawQuery,
			Host:       r.Host,
			RemoteAddr: r.RemoteAddr,
		},
		Headers: headers,
	})
}
