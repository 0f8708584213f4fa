package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// client talks to a flowhist server's API for one namespace. The token is
// sent in a header only: it never appears in a URL, a message or a log.
type client struct {
	base  string // the server URL, without a trailing slash
	shown string // base as messages show it, without any password
	token string
	ns    string
	http  *http.Client
}

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
func newClient(v *viper.Viper, cmd *cobra.Command) (*client, error) {
	readClientConfig(v, cmd)
	c := &client{
		base:  strings.TrimRight(v.GetString("cli.url"), "/"),
		token: v.GetString("cli.token"),
		ns:    v.GetString("cli.namespace"),
		http:  &http.Client{Timeout: 5 * time.Minute},
	}
	u, err := url.Parse(c.base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		shown := c.base
		if err == nil {
			shown = u.Redacted()
		}
		return nil, &domain.Error{Code: domain.EINVALID, Message: fmt.Sprintf("flowhist URL %q is not an http:// or https:// URL: set --url or FLOWHIST_URL", shown)}
	}
	c.shown = u.Redacted()
	if c.ns == "" {
		return nil, &domain.Error{Code: domain.EINVALID, Message: "no namespace: set --namespace/-n, FLOWHIST_NAMESPACE or cli.namespace in the config file"}
	}
	if err := domain.ValidateNamespace(c.ns); err != nil {
		return nil, err
	}
	return c, nil
}

// nsPath returns the URL of the namespace's API path rest ("/history").
func (c *client) nsPath(rest string, q url.Values) string {
	u := c.base + "/v1/namespaces/" + url.PathEscape(c.ns) + rest
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// do sends a request and returns the body of a 2xx answer. Error answers
// become *domain.Error; a server that cannot be reached becomes exit code 6.
func (c *client) do(ctx context.Context, method, u string, body []byte, header http.Header) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, &domain.Error{Code: domain.EINVALID, Message: fmt.Sprintf("bad request to %s: %v", c.shown, err)}
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("Flowhist-Channel", domain.ChannelCLI)
	resp, err := c.http.Do(req)
	if err != nil {
		// url.Error repeats the whole URL; the cause alone is clearer.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, &domain.Error{Code: domain.EUNAVAILABLE, Message: fmt.Sprintf("cannot reach flowhist at %s: %v (check --url / FLOWHIST_URL)", c.shown, err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, &domain.Error{Code: domain.EUNAVAILABLE, Message: fmt.Sprintf("reading the answer of flowhist at %s: %v", c.shown, err)}
	}
	if resp.StatusCode/100 != 2 {
		return nil, answerError(resp.StatusCode, data)
	}
	return data, nil
}

// answerError turns an error answer into a *domain.Error. An answer that is
// not flowhist's {"code","message"} (a proxy's page) gets the code of its
// status.
func answerError(status int, body []byte) error {
	var e httpapi.Error
	if json.Unmarshal(body, &e) == nil && e.Code != "" {
		return &domain.Error{Code: e.Code, Message: e.Message}
	}
	code := domain.EINTERNAL
	switch status {
	case http.StatusBadRequest:
		code = domain.EINVALID
	case http.StatusNotFound:
		code = domain.ENOTFOUND
	case http.StatusConflict:
		code = domain.ECONFLICT
	case http.StatusUnauthorized:
		code = domain.EUNAUTHORIZED
	case http.StatusForbidden:
		code = domain.EFORBIDDEN
	case http.StatusRequestEntityTooLarge:
		code = domain.ETOOLARGE
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		code = domain.EUNAVAILABLE
	}
	return &domain.Error{Code: code, Message: fmt.Sprintf("flowhist answered %d %s", status, http.StatusText(status))}
}

// get GETs a namespace path and decodes the JSON answer into out (unless
// nil); it returns the raw answer for --json.
func (c *client) get(ctx context.Context, rest string, q url.Values, out any) ([]byte, error) {
	return c.call(ctx, http.MethodGet, rest, q, nil, nil, out)
}

// post POSTs a JSON body to a namespace path and decodes the answer.
func (c *client) post(ctx context.Context, rest string, body any, header http.Header, out any) ([]byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	return c.call(ctx, http.MethodPost, rest, nil, b, header, out)
}

// call makes a request to a namespace path and decodes the JSON answer
// into out (unless nil); it returns the raw answer for --json.
func (c *client) call(ctx context.Context, method, rest string, q url.Values, body []byte, header http.Header, out any) ([]byte, error) {
	data, err := c.do(ctx, method, c.nsPath(rest, q), body, header)
	if err != nil {
		return nil, err
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return nil, fmt.Errorf("flowhist at %s answered %s with unexpected JSON: %v", c.shown, rest, err)
		}
	}
	return data, nil
}

// limitQuery is the query of a --limit N page: N from 1 to 500.
func limitQuery(limit int) (url.Values, error) {
	if limit < 1 || limit > 500 {
		return nil, domain.Errorf(domain.EINVALID, "--limit %d is not from 1 to 500", limit)
	}
	return url.Values{"limit": {strconv.Itoa(limit)}}, nil
}

// parseRev parses a REV argument: a positive whole number.
func parseRev(s string) (domain.Revision, error) {
	rev, err := domain.ParseRevision(s)
	if err != nil || rev == 0 {
		return 0, domain.Errorf(domain.EINVALID, "revision %q is not a positive whole number", s)
	}
	return rev, nil
}
