package gateway

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
)

// OpenAPIPath is where latchkey serves the OpenAPI document of its own
// endpoints.
const OpenAPIPath = "/api/v1/openapi.json"

// openAPIDocument is the OpenAPI 3.1 document of every endpoint latchkey
// serves itself, written by hand. openapi_test.go holds the code to it: each
// documented operation is called on a real gateway and every request and
// answer is validated against the document. A new endpoint gets its path in
// openapi.json, reusing the components (error responses, security schemes,
// the parameters of unsafe requests), and its calls in TestOpenAPIDocument.
//
//go:embed openapi.json
var openAPIDocument []byte

// openAPIETag is the document's strong validator: it changes with the
// document, which only a new build changes.
var openAPIETag = func() string {
	sum := sha256.Sum256(openAPIDocument)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}()

// serveOpenAPI answers GET and HEAD {OpenAPIPath} with the document, which
// clients may cache for five minutes and then revalidate by its ETag.
func (s *Server) serveOpenAPI(w http.ResponseWriter, r *http.Request) error {
	h := w.Header()
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("ETag", openAPIETag)
	if etagListed(r.Header.Get("If-None-Match"), openAPIETag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(openAPIDocument)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write(openAPIDocument)
	}
	return nil
}

// etagListed reports whether an If-None-Match value names tag: "*", or a
// list of entity tags, compared weakly as RFC 9110 §13.1.2 has it (a W/
// prefix is ignored).
func etagListed(ifNoneMatch, tag string) bool {
	if strings.TrimSpace(ifNoneMatch) == "*" {
		return true
	}
	for t := range strings.SplitSeq(ifNoneMatch, ",") {
		if strings.TrimPrefix(strings.TrimSpace(t), "W/") == tag {
			return true
		}
	}
	return false
}
