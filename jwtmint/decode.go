package jwtmint

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Decode returns a token's header and claims WITHOUT checking its signature
// or its times: for showing what a token says, never for trusting it. Numbers
// are json.Number, so that large ones keep every digit.
func Decode(token string) (header, claims map[string]any, err error) {
	token = strings.TrimSpace(token)
	if token == "" {
		return nil, nil, errors.New("no token given")
	}
	parts := strings.Split(token, ".")
	switch {
	case len(parts) == 5:
		return nil, nil, errors.New("the token has 5 parts: it is an encrypted JWE, which cannot be decoded")
	case len(parts) != 3:
		if len(parts) == 1 {
			return nil, nil, errors.New("the token has no dots; a JWT has 3 parts separated by dots")
		}
		return nil, nil, fmt.Errorf("the token has %d parts separated by dots; a JWT has 3", len(parts))
	}
	if header, err = decodeSegment(parts[0], "header"); err != nil {
		return nil, nil, err
	}
	if claims, err = decodeSegment(parts[1], "payload"); err != nil {
		return nil, nil, err
	}
	if _, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[2], "=")); err != nil {
		return nil, nil, errors.New("the token's signature is not base64url")
	}
	return header, claims, nil
}

func decodeSegment(seg, what string) (map[string]any, error) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
	if err != nil {
		return nil, fmt.Errorf("the token's %s is not base64url", what)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil || dec.More() {
		return nil, fmt.Errorf("the token's %s is not a JSON object", what)
	}
	return m, nil
}
