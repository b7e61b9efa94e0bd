package gateway

import (
	"errors"
	"io"
	"net/http"
	"sync"
)

// Request framing. Go's server already refuses most smuggling shapes
// (several Content-Length values, an unknown Transfer-Encoding), and it
// removes Content-Length from a request that also has Transfer-Encoding:
// chunked, reads the body as chunked and passes it on re-framed, so such a
// request cannot carry a second request to the upstream. What it leaves to
// the handler is a chunked body that turns out malformed while latchkey
// streams it to the upstream: that is the client's fault, answered 400 and
// with the connection closed, not 502 with an upstream error in the log.

// clientBody remembers the first error reading the client's request body.
type clientBody struct {
	io.ReadCloser
	mu  sync.Mutex
	err error
}

func (b *clientBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		b.mu.Lock()
		if b.err == nil {
			b.err = err
		}
		b.mu.Unlock()
	}
	return n, err
}

func (b *clientBody) failed() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// watchBody wraps the body of r, when it has one, and notes it in r's
// admission, so that the proxy's error handler can tell a broken request
// body from a failed upstream.
func watchBody(r *http.Request) {
	a := admissionFrom(r.Context())
	if a != nil && r.Body != nil && r.Body != http.NoBody {
		a.body.ReadCloser = r.Body // in the admission: no allocation of its own
		r.Body = &a.body
	}
}

// bodyFailed returns the error reading r's body, if that is what failed.
func bodyFailed(r *http.Request) error {
	if a := admissionFrom(r.Context()); a != nil && a.body.ReadCloser != nil {
		return a.body.failed()
	}
	return nil
}
