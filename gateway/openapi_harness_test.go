package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// The OpenAPI harness holds latchkey's answers to the document it serves
// (openapi.json). A test sends its requests through an apiCheck instead of
// straight to the handler; the check finds each request's operation in the
// document, validates the request and the real answer (status, headers,
// body) with kin-openapi's openapi3filter, reports every mismatch with
// t.Errorf, and records which operations were called, so that a test can
// demand that each was.
//
//	a := newAPICheck(t, f.s.Handler())
//	w := a.do(request("GET", "/healthz", ""))                      // as documented
//	a.doInvalid(request("POST", "/api/v1/login", "{"), "bad JSON")  // breaks the document on purpose
//	a.doOtherMethod(request("GET", "/api/v1/login", ""))           // the path's x-other-methods answer
//	a.checkCoverage()                                              // every operation was called

// theOpenAPIDocument is the embedded document, loaded, validated and routed
// once for the test binary.
var theOpenAPIDocument = sync.OnceValues(func() (*apiDocument, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(openAPIDocument)
	if err != nil {
		return nil, fmt.Errorf("load openapi.json: %w", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		return nil, fmt.Errorf("openapi.json is OpenAPI %s, not 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("openapi.json is not a valid OpenAPI document: %w", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route openapi.json: %w", err)
	}
	return &apiDocument{doc: doc, router: router}, nil
})

// apiDocument is the loaded document and the router that finds operations.
type apiDocument struct {
	doc    *openapi3.T
	router routers.Router
}

// operations lists every operation of the document as "METHOD /path".
func (d *apiDocument) operations() []string {
	var ops []string
	for path, item := range d.doc.Paths.Map() {
		for method := range item.Operations() {
			ops = append(ops, method+" "+path)
		}
	}
	slices.Sort(ops)
	return ops
}

// apiCheck sends requests to a handler and holds them, and the answers, to
// the document. Copies made by on share what was called.
type apiCheck struct {
	t     testing.TB
	h     http.Handler
	d     *apiDocument
	calls *apiCalls
}

// apiCalls records, per operation ("METHOD /path"), the statuses it
// answered, and whether it answered a request the document accepts with a
// status below 400.
type apiCalls struct {
	mu      sync.Mutex
	status  map[string]map[int]bool
	success map[string]bool
}

func newAPICheck(t testing.TB, h http.Handler) *apiCheck {
	t.Helper()
	d, err := theOpenAPIDocument()
	if err != nil {
		t.Fatal(err)
	}
	return &apiCheck{t: t, h: h, d: d, calls: &apiCalls{status: map[string]map[int]bool{}, success: map[string]bool{}}}
}

// on returns a check that sends to h, recording into the same calls.
func (a *apiCheck) on(h http.Handler) *apiCheck {
	b := *a
	b.h = h
	return &b
}

// in returns a check that reports to t (a subtest's), recording into the
// same calls.
func (a *apiCheck) in(t testing.TB) *apiCheck {
	b := *a
	b.t = t
	return &b
}

// How a request stands to the document.
type apiRequestKind int

const (
	asDocumented apiRequestKind = iota // the document accepts the request
	breaksDoc                          // the request breaks the document on purpose
	otherMethod                        // the path is documented, the method is not
)

// do sends r, which must be as the document describes, and validates the
// answer against its operation.
func (a *apiCheck) do(r *http.Request) *httptest.ResponseRecorder {
	a.t.Helper()
	return a.call(r, asDocumented, "")
}

// doInvalid sends r, which breaks the document for the reason why (a
// missing header or credential, a malformed body): the validator must say
// so. The answer — the refusal — is still validated against the operation.
func (a *apiCheck) doInvalid(r *http.Request, why string) *httptest.ResponseRecorder {
	a.t.Helper()
	return a.call(r, breaksDoc, why)
}

// doOtherMethod sends r, whose path is documented but its method is not.
// The path must have x-other-methods, and the answer must be that
// response, with an Allow header that lists the path's documented methods.
func (a *apiCheck) doOtherMethod(r *http.Request) *httptest.ResponseRecorder {
	a.t.Helper()
	return a.call(r, otherMethod, "")
}

// Handler returns a in the shape of an http.Handler, for an
// httptest.Server (or a client package's tests): every request it serves
// must be as documented.
func (a *apiCheck) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := a.do(r)
		maps.Copy(w.Header(), rec.Header())
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	})
}

func (a *apiCheck) call(r *http.Request, kind apiRequestKind, why string) *httptest.ResponseRecorder {
	a.t.Helper()
	body := readBody(a.t, r)
	what := r.Method + " " + r.URL.RequestURI()
	route, params, findErr := a.d.router.FindRoute(withBody(r, body))
	switch {
	case kind == otherMethod && !errors.Is(findErr, routers.ErrMethodNotAllowed):
		a.t.Errorf("%s: the test expects a documented path with another method, but the router says %v", what, routeErr(findErr))
	case kind == otherMethod:
		if route = a.otherMethodRoute(r, body); route == nil {
			a.t.Errorf("%s: the path's item has no x-other-methods, so the document does not say how other methods are answered", what)
		}
	case findErr != nil:
		a.t.Errorf("%s: the request matches no operation in the document: %v", what, findErr)
	default:
		err := a.validateRequest(withBody(r, body), route, params)
		if kind == asDocumented && err != nil {
			a.t.Errorf("%s: the request does not match the document: %v", what, err)
		}
		if kind == breaksDoc && err == nil {
			a.t.Errorf("%s: the test sends a request that breaks the document (%s), but the document accepts it", what, why)
		}
	}

	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, withBody(r, body))
	if route == nil {
		return w
	}
	if err := a.validateResponse(withBody(r, body), route, params, w.Code, w.Header(), w.Body.Bytes()); err != nil {
		a.t.Errorf("%s → %d: the answer does not match the document: %v\nbody: %s", what, w.Code, err, w.Body)
	}
	if kind == otherMethod {
		a.checkAllow(what, w.Header().Get("Allow"), route.PathItem)
		return w
	}
	a.calls.record(route.Method+" "+route.Path, w.Code, kind == asDocumented)
	return w
}

// validateRequest validates r against its operation: security, parameters
// and body.
func (a *apiCheck) validateRequest(r *http.Request, route *routers.Route, params map[string]string) error {
	return openapi3filter.ValidateRequest(r.Context(), &openapi3filter.RequestValidationInput{
		Request: r, PathParams: params, Route: route, Options: apiOptions(),
	})
}

// validateResponse validates an answer to r against the operation: the
// status must be documented, and its headers and body as documented.
func (a *apiCheck) validateResponse(r *http.Request, route *routers.Route, params map[string]string, status int, header http.Header, body []byte) error {
	ref := route.Operation.Responses.Status(status)
	if ref == nil {
		ref = route.Operation.Responses.Default()
	}
	if ref == nil {
		return fmt.Errorf("the status %d is not documented for %s %s", status, route.Method, route.Path)
	}
	opts := apiOptions()
	req := r
	if r.Method == http.MethodHead {
		// openapi3filter validates nothing of an answer to HEAD; asked as
		// for GET, it checks the HEAD operation's status and headers. A
		// HEAD answer's body is the transport's to drop.
		req = r.Clone(r.Context())
		req.Method = http.MethodGet
		opts.ExcludeResponseBody = true
	} else if len(ref.Value.Content) == 0 && len(body) > 0 {
		return fmt.Errorf("the document gives the %d answer no body, but it has one", status)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts},
		Status:                 status,
		Header:                 header,
		Options:                opts,
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(r.Context(), in); err != nil {
		return err
	}
	// openapi3filter reads the first value of a header; the others (a
	// second Set-Cookie) are held to the same schema, one at a time.
	for name := range ref.Value.Headers {
		vals := header.Values(name)
		for i := 1; i < len(vals); i++ {
			one := header.Clone()
			one[http.CanonicalHeaderKey(name)] = []string{vals[i]}
			rest := *opts
			rest.ExcludeResponseBody = true
			in := &openapi3filter.ResponseValidationInput{RequestValidationInput: in.RequestValidationInput, Status: status, Header: one, Options: &rest}
			if err := openapi3filter.ValidateResponse(r.Context(), in); err != nil {
				return fmt.Errorf("%s value %d of %d: %w", name, i+1, len(vals), err)
			}
		}
	}
	return nil
}

// otherMethodRoute returns a route for r whose operation answers only with
// the response named by x-other-methods of r's path item, or nil when the
// path item has none.
func (a *apiCheck) otherMethodRoute(r *http.Request, body []byte) *routers.Route {
	for _, path := range a.d.doc.Paths.InMatchingOrder() {
		item := a.d.doc.Paths.Value(path)
		for method := range item.Operations() {
			probe := withBody(r, body)
			probe.Method = method
			route, _, err := a.d.router.FindRoute(probe)
			if err != nil || route.Path != path {
				continue
			}
			ext, _ := item.Extensions["x-other-methods"].(map[string]any)
			ref, _ := ext["$ref"].(string)
			name, ok := strings.CutPrefix(ref, "#/components/responses/")
			resp := a.d.doc.Components.Responses[name]
			if !ok || resp == nil {
				return nil
			}
			return &routers.Route{Spec: a.d.doc, Path: path, PathItem: item, Method: r.Method,
				Operation: &openapi3.Operation{Responses: openapi3.NewResponses(openapi3.WithStatus(http.StatusMethodNotAllowed, resp))}}
		}
	}
	return nil
}

// checkAllow checks that an Allow header names the documented methods of
// the path, no more and no fewer.
func (a *apiCheck) checkAllow(what, allow string, item *openapi3.PathItem) {
	a.t.Helper()
	var got []string
	for m := range strings.SplitSeq(allow, ",") {
		got = append(got, strings.TrimSpace(m))
	}
	slices.Sort(got)
	want := slices.Sorted(maps.Keys(item.Operations()))
	if !slices.Equal(got, want) {
		a.t.Errorf("%s: Allow is %q, but the document lists %v", what, allow, want)
	}
}

// checkCoverage fails the test for each documented operation that was not
// called with a request the document accepts and answered with a status
// below 400, and logs the documented statuses that no call produced.
func (a *apiCheck) checkCoverage() {
	a.t.Helper()
	a.calls.mu.Lock()
	defer a.calls.mu.Unlock()
	var untried []string
	for _, op := range a.d.operations() {
		if !a.calls.success[op] {
			a.t.Errorf("%s is documented but was not called with a request the document accepts and answered with success", op)
		}
		method, path, _ := strings.Cut(op, " ")
		for code := range a.d.doc.Paths.Value(path).GetOperation(method).Responses.Map() {
			if n, _ := strconv.Atoi(code); !a.calls.status[op][n] {
				untried = append(untried, op+" "+code)
			}
		}
	}
	slices.Sort(untried)
	if len(untried) > 0 {
		a.t.Logf("documented answers that no call produced (%d): %s", len(untried), strings.Join(untried, "; "))
	}
}

func (c *apiCalls) record(op string, status int, documented bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.status[op] == nil {
		c.status[op] = map[int]bool{}
	}
	c.status[op][status] = true
	if documented && status < 400 {
		c.success[op] = true
	}
}

// apiOptions are the validator's options: undocumented statuses fail, every
// problem is reported (without the schema, which the document shows), and
// authentication accepts any credential of a scheme the operation declares
// (the gateway itself checks them).
func apiOptions() *openapi3filter.Options {
	o := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true, AuthenticationFunc: carriesCredential}
	o.WithCustomSchemaErrorFunc(func(e *openapi3.SchemaError) string {
		if path := e.JSONPointer(); len(path) > 0 && e.Reason != "" {
			return "at /" + strings.Join(path, "/") + ": " + e.Reason
		}
		return e.Reason // "" keeps kin-openapi's message
	})
	return o
}

// carriesCredential is the validator's AuthenticationFunc: it accepts a
// request that carries a credential of the security scheme, whatever its
// value, and refuses one that carries none.
func carriesCredential(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	r, s := in.RequestValidationInput.Request, in.SecurityScheme
	switch {
	case s.Type == "apiKey" && s.In == "cookie":
		if v, ok := cookieValue(r, s.Name); ok && v != "" {
			return nil
		}
	case s.Type == "apiKey" && s.In == "header":
		if r.Header.Get(s.Name) != "" {
			return nil
		}
	case s.Type == "http":
		scheme, cred, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if strings.EqualFold(scheme, s.Scheme) && strings.TrimSpace(cred) != "" {
			return nil
		}
	default:
		return in.NewError(fmt.Errorf("the harness cannot check the security scheme %q of type %s", in.SecuritySchemeName, s.Type))
	}
	return in.NewError(fmt.Errorf("the request carries no %s credentials", in.SecuritySchemeName))
}

// readBody reads r's body once, so that the validator and the handler can
// each read it anew (withBody).
func readBody(t testing.TB, r *http.Request) []byte {
	t.Helper()
	if r.Body == nil {
		return nil
	}
	b, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		t.Errorf("%s %s: reading the request body: %v", r.Method, r.URL, err) // not Fatal: Handler may run outside the test's goroutine
	}
	return b
}

// withBody returns a shallow copy of r that reads body.
func withBody(r *http.Request, body []byte) *http.Request {
	c := r.Clone(r.Context())
	c.Body = io.NopCloser(bytes.NewReader(body))
	c.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	c.ContentLength = int64(len(body))
	return c
}

// routeErr describes a router error, nil included.
func routeErr(err error) string {
	if err == nil {
		return "it matches an operation"
	}
	return err.Error()
}
