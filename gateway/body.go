package gateway

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/latchkey/latchkey"
)

// maxBody bounds the JSON body of latchkey's own endpoints.
const maxBody = 64 << 10

// decodeJSON reads the request's body, which must be one JSON object of at
// most 64 KiB sent as application/json, into v, refusing fields that v does
// not have. Its errors are EINVALID with a sentence that says what to fix.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return latchkey.Errorf(latchkey.EINVALID, "The body must be JSON, sent with Content-Type: application/json.")
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("trailing data")
	}
	if err == nil {
		return nil
	}
	var tooBig *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooBig):
		return latchkey.Errorf(latchkey.EINVALID, "The body is too large: send at most 64 KiB.")
	case errors.Is(err, io.EOF):
		return latchkey.Errorf(latchkey.EINVALID, "The body is empty; send a JSON object.")
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return latchkey.Errorf(latchkey.EINVALID, "The field %s must be a JSON %s.", strconv.Quote(typeErr.Field), jsonKind(typeErr.Type.Kind().String()))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return latchkey.Errorf(latchkey.EINVALID, "The body has the unknown field %s.", strings.TrimPrefix(err.Error(), "json: unknown field "))
	default:
		return latchkey.Wrap(err, latchkey.EINVALID, "The body must be one well-formed JSON object.")
	}
}

// jsonKind names a Go kind as JSON calls it.
func jsonKind(kind string) string {
	switch {
	case kind == "string":
		return "string"
	case kind == "bool":
		return "boolean"
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"), strings.HasPrefix(kind, "float"):
		return "number"
	default:
		return "value of another type"
	}
}
