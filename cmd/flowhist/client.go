package main

import (
	"bytes"
	"encoding/json"
	"io"

	"github.com/flowhist/flowhist/client"
	"github.com/flowhist/flowhist/domain"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// addClientFlags adds the flags of commands that talk to flowhist over
// HTTP.
func addClientFlags(fs *pflag.FlagSet) {
	addFlags(fs, "url", "token", "namespace", "ca-file", "cert-file", "key-file")
	fs.Bool("json", false, "print the server's JSON instead of a table")
}

// newClient reads the connection settings, in increasing precedence: the
// config file's cli section, FLOWHIST_URL, FLOWHIST_TOKEN and
// FLOWHIST_NAMESPACE, and the --url, --token and --namespace flags.
func newClient(v *viper.Viper) (*client.Client, error) {
	var c config
	readOptions(v, &c)
	return client.New(client.Config{URL: c.cli.url, Token: c.cli.token, Namespace: c.cli.namespace, Channel: domain.ChannelCLI,
		CAFile: c.cli.caFile, CertFile: c.cli.certFile, KeyFile: c.cli.keyFile})
}

// printAnswer prints an answer as the server wrote it (no HTML escapes),
// indented by two spaces.
func printAnswer(w io.Writer, answer any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(answer); err != nil {
		return err
	}
	return printJSON(w, buf.Bytes())
}

// checkLimit checks a --limit N page: N from 1 to 500.
func checkLimit(limit int) error {
	if limit < 1 || limit > 500 {
		return domain.Errorf(domain.EINVALID, "--limit %d is not from 1 to 500", limit)
	}
	return nil
}

// parseRev parses a REV argument: a positive whole number.
func parseRev(s string) (domain.Revision, error) {
	rev, err := domain.ParseRevision(s)
	if err != nil || rev == 0 {
		return 0, domain.Errorf(domain.EINVALID, "revision %q is not a positive whole number", s)
	}
	return rev, nil
}
