package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
)

func (a *app) jwtCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "jwt",
		Short: "Create, decode and verify JSON Web Tokens (everything qs-jwt does)",
		Long: `Create JWTs for Qlik Sense Enterprise on Windows (a JWT virtual proxy) and for
Qlik Cloud (/login/jwt-session), with an existing private key or a new key pair
and self-signed certificate; decode a token; verify one against a public key,
a JWK Set or an HMAC secret.

The flags of "jwt create" are those of qs-jwt's create-qseow and create-qscloud,
so scripts written for qs-jwt work with "latchkey jwt create qseow|cloud".`,
	}
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a JWT for Qlik Sense Enterprise on Windows (qseow) or Qlik Cloud (cloud)",
		Example: `  latchkey jwt create qseow --userdir LAB --userid goran --audience abc123 --expires 365d --cert-create
  latchkey jwt create cloud --userid auth0|123 --issuer https://idp.example.com --keyid my-key \
      --expires 60m --cert-privatekey-file privatekey.pem --minimal-output`,
	}
	create.AddCommand(a.jwtCreate("qseow", "qseow", false), a.jwtCreate("cloud", "cloud", false))
	cmd.AddCommand(create, a.jwtDecode(), a.jwtVerify(),
		// qs-jwt's own command names, so that "qs-jwt" can be replaced by
		// "latchkey jwt" in a script.
		a.jwtCreate("qseow", "create-qseow", true), a.jwtCreate("cloud", "create-qscloud", true))
	return cmd
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// printDecoded writes a token's header and payload as qs-jwt's decode does:
// indented JSON, with iat, nbf and exp also as dates.
func printDecoded(w io.Writer, header, payload map[string]any) error {
	display := make(map[string]any, len(payload))
	for k, v := range payload {
		display[k] = v
		if k == "iat" || k == "nbf" || k == "exp" {
			if t, ok := unixTime(v); ok {
				display[k] = fmt.Sprintf("%v (%s)", v, t.UTC().Format(time.RFC3339))
			}
		}
	}
	fmt.Fprintln(w, "JWT Header:")
	if err := printJSON(w, header); err != nil {
		return err
	}
	fmt.Fprintln(w, "JWT Payload:")
	return printJSON(w, display)
}

// unixTime reads a NumericDate claim as Decode returns it.
func unixTime(v any) (time.Time, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}
