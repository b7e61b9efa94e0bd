package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey/xrfkey"
)

// maxXrfkeys is the most keys one "latchkey xrfkey" prints.
const maxXrfkeys = 100000

func (a *app) xrfkeyCommand() *cobra.Command {
	var count int
	cmd := &cobra.Command{
		Use:   "xrfkey",
		Short: "Print a fresh Xrfkey for Qlik's XSRF check",
		Long: `Print a fresh Xrfkey: 16 characters, each drawn uniformly from [0-9A-Za-z] with
a cryptographic random generator. Send the same key as the Xrfkey query
parameter and the X-Qlik-Xrfkey header; use a new one for each request.`,
		Example: `  latchkey xrfkey
  KEY=$(latchkey xrfkey)
  curl "https://qliksense.example.com/jwt/qrs/about?Xrfkey=$KEY" -H "X-Qlik-Xrfkey: $KEY" -H "Authorization: Bearer $TOKEN"
  latchkey xrfkey --count 5 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			if count < 1 || count > maxXrfkeys {
				return fmt.Errorf("--count must be 1 to %d, not %d", maxXrfkeys, count)
			}
			keys := make([]string, count)
			for i := range keys {
				keys[i] = xrfkey.New()
			}
			if a.output == "json" {
				return printJSON(a.stdout, keys)
			}
			_, err := fmt.Fprintln(a.stdout, strings.Join(keys, "\n"))
			return err
		},
	}
	cmd.Flags().IntVarP(&count, "count", "n", 1, "how many keys to print, one a line")
	a.addOutputFlag(cmd)
	return cmd
}
