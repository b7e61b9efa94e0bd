package gateway

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/latchkey/latchkey"
)

// statusOf is the one place that maps an error code to an HTTP status.
var statusOf = map[string]int{
	latchkey.EINVALID:      http.StatusBadRequest,
	latchkey.ENOTFOUND:     http.StatusNotFound,
	latchkey.ECONFLICT:     http.StatusConflict,
	latchkey.EUNAUTHORIZED: http.StatusUnauthorized,
	latchkey.EFORBIDDEN:    http.StatusForbidden,
	latchkey.ERATELIMITED:  http.StatusTooManyRequests,
	latchkey.EUNAVAILABLE:  http.StatusServiceUnavailable,
	latchkey.EUPSTREAM:     http.StatusBadGateway,
	latchkey.ETIMEOUT:      http.StatusGatewayTimeout,
	latchkey.EINTERNAL:     http.StatusInternalServerError,
}

// HTTPStatus returns the status for err's code.
func HTTPStatus(err error) int {
	if st, ok := statusOf[latchkey.ErrorCode(err)]; ok {
		return st
	}
	return http.StatusInternalServerError
}

// errorBody is the JSON shape of latchkey's own errors.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// handlerFunc is an HTTP handler that returns its error instead of writing it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle adapts a handlerFunc: a returned error is logged and written.
func (s *Server) handle(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// writeError writes err's status and client message as JSON, and logs the
// cause: server faults at error level, client mistakes at debug level.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	s.writeErrorAs(w, r, err, writeErrorBody)
}

// writeErrorAs is writeError with the body in another API's shape (body
// writes it): the status, the log line, the headers and the 429 hold-off are
// the same for every shape.
func (s *Server) writeErrorAs(w http.ResponseWriter, r *http.Request, err error, body func(w http.ResponseWriter, status int, code, message string)) {
	status := HTTPStatus(err)
	code := latchkey.ErrorCode(err)
	if status >= 500 {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "code", code, "err", err)
	} else {
		s.log.Debug("request refused", "method", r.Method, "path", r.URL.Path, "code", code, "err", err)
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("Cache-Control", "no-store")
	}
	if status == http.StatusTooManyRequests {
		s.holdRefusal(r)
	}
	body(w, status, code, latchkey.ErrorMessage(err))
}

// RefusalDelay is how long latchkey waits before it answers 429 (too many
// failed sign-ins, too many password checks waiting). A client that tries
// again at once, as one guessing passwords does, then costs a timer for a
// second instead of a core, and clients with the right credentials keep
// the CPU.
const RefusalDelay = time.Second

// holdRefusal waits s.refusalDelay, or until the client gives up.
func (s *Server) holdRefusal(r *http.Request) {
	if s.refusalDelay <= 0 {
		return
	}
	t := time.NewTimer(s.refusalDelay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}

func writeErrorBody(w http.ResponseWriter, status int, code, message string) {
	var body errorBody
	body.Error.Code, body.Error.Message = code, message
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json") // UTF-8 by definition (RFC 8259)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
