package main

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"

	"github.com/flowhist/flowhist/client"
	"github.com/flowhist/flowhist/domain"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// addClientFlags adds the flags of commands that talk to flowhist over
// HTTP.
func addClientFlags(fs *pflag.FlagSet) {
	fs.String("url", "", "flowhist URL (env FLOWHIST_URL, config cli.url; default http://127.0.0.1:8080)")
	fs.String("token", "", "bearer token (env FLOWHIST_TOKEN, config cli.token)")
	fs.StringP("namespace", "n", "", "namespace (env FLOWHIST_NAMESPACE, config cli.namespace)")
	fs.Bool("json", false, "print the server's JSON instead of a table")
}

// readClientConfig reads the cli section into v, in increasing precedence:
// the config file, FLOWHIST_URL/_TOKEN/_NAMESPACE, and the flags.
func readClientConfig(v *viper.Viper, cmd *cobra.Command) {
	v.SetDefault("cli.url", "http://127.0.0.1:8080")
	v.SetDefault("cli.token", "")
	v.SetDefault("cli.namespace", "")
	for flag, key := range map[string]string{"url": "cli.url", "token": "cli.token", "namespace": "cli.namespace"} {
		v.BindEnv(key, "FLOWHIST_"+strings.ToUpper(flag))
		if f := cmd.Flags().Lookup(flag); f != nil && f.Changed {
			v.Set(key, f.Value.String())
		}
	}
}

// newClient reads the connection settings, in increasing precedence: the
// config file's cli section, FLOWHIST_URL, FLOWHIST_TOKEN and
// FLOWHIST_NAMESPACE, and the --url, --token and --namespace flags.
func newClient(v *viper.Viper, cmd *cobra.Command) (*client.Client, error) {
	readClientConfig(v, cmd)
	return client.New(client.Config{
		URL:       v.GetString("cli.url"),
		Token:     v.GetString("cli.token"),
		Namespace: v.GetString("cli.namespace"),
		Channel:   domain.ChannelCLI,
	})
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
