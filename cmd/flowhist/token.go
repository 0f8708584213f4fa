package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/flowhist/flowhist/domain"
	"github.com/spf13/cobra"
)

func (m *Main) tokenCommand() *cobra.Command {
	var worker string
	var namespaces []string
	var withSum bool
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Print a new random bearer token (256 bits, hex) for auth.tokens",
		Long: `Print a new random bearer token (256 bits, hex) for auth.tokens.

With --sha256, also its sha256, for auth.tokens[].token_sha256 (the
config then holds no usable secret). With --worker ID (a worker id or a
pattern such as "edge-*"), a ready auth.tokens entry for that worker:
read scope, the namespaces of --namespaces, workers: [ID], by the token's
sha256; the token itself, for the worker's settings.flowhist.token, is
printed above it as a comment.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b := make([]byte, 32)
			if _, err := rand.Read(b); err != nil {
				return err
			}
			token := hex.EncodeToString(b)
			sum := sha256.Sum256([]byte(token))
			if worker == "" {
				fmt.Fprintln(m.Stdout, token)
				if withSum {
					fmt.Fprintln(m.Stdout, hex.EncodeToString(sum[:]))
				}
				return nil
			}
			id := strings.ReplaceAll(strings.ReplaceAll(worker, "*", "x"), "?", "x")
			if err := domain.ValidateNamespace(id); err != nil {
				return domain.Errorf(domain.EINVALID, "--worker %q is not a worker id or pattern: use 1 to 64 letters, digits, '_', '.', '-', and '*' or '?'", worker)
			}
			for _, ns := range namespaces {
				if ns != "*" && domain.ValidateNamespace(ns) != nil {
					return domain.Errorf(domain.EINVALID, "--namespaces: %q is not a namespace (or \"*\")", ns)
				}
			}
			name := "worker-" + strings.NewReplacer("*", "all", "?", "any").Replace(worker)
			list, _ := json.Marshal(namespaces)
			wk, _ := json.Marshal([]string{worker})
			fmt.Fprintf(m.Stdout, "# %s's token (its settings.flowhist.token or FLOWHIST_TOKEN); flowhist keeps only its sha256:\n#   %s\n", worker, token)
			fmt.Fprintf(m.Stdout, "- name: %s\n  token_sha256: %s\n  scopes: [read]\n  namespaces: %s\n  workers: %s\n", name, hex.EncodeToString(sum[:]), list, wk)
			return nil
		},
	}
	cmd.Flags().StringVar(&worker, "worker", "", "print an auth.tokens entry for this worker id (or pattern such as edge-*)")
	cmd.Flags().StringSliceVar(&namespaces, "namespaces", []string{"*"}, "with --worker: the namespaces the token covers")
	cmd.Flags().BoolVar(&withSum, "sha256", false, "also print the token's sha256 (for token_sha256)")
	return cmd
}
