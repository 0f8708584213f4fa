package main

import (
	"fmt"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
)

// checkTokens refuses, at start, what auth.tokens must not hold: a token
// that is weak or a documented placeholder (named by its entry, never
// shown), no worker binding anywhere (workers would follow the feed with
// a token that may not), a client_cert_cn without listen_tls.client_ca_file.
func checkTokens(c serveConfig) error {
	if c.API.AuthDisabled {
		return nil
	}
	fail := func(format string, a ...any) error {
		return &domain.Error{Code: domain.EINVALID, Message: fmt.Sprintf(format, a...)}
	}
	bound := false
	for i, t := range c.API.Tokens {
		if t.Secret != "" {
			if why := httpapi.WeakToken(t.Secret); why != "" {
				return fail("auth.tokens entry %d (%s): the token %s", i+1, t.Name, why)
			}
		}
		if err := t.Validate(); err != nil {
			return fail("auth.tokens entry %d (%s): %v", i+1, t.Name, err)
		}
		if t.ClientCertCN != "" && c.TLS.ClientCAFile == "" {
			return fail("auth.tokens entry %d (%s): client_cert_cn needs listen_tls.client_ca_file, the CA that signs client certificates", i+1, t.Name)
		}
		bound = bound || len(t.Workers) > 0
	}
	if !bound {
		return fail("no token may act as a worker: workers follow the feed, acknowledge and report packages only with a token whose auth.tokens[].workers names their ids; add workers: [\"<worker id>\"] (or a pattern such as [\"edge-*\"]) to each worker's token, and [\"admin-*\"] to the Node-RED admin's, whose id is admin-<host>-<port> unless its workerId says otherwise (flowhist token --worker ID prints an entry)")
	}
	if c.API.MetricsToken != "" {
		if why := httpapi.WeakToken(c.API.MetricsToken); why != "" {
			return fail("metrics.token %s", why)
		}
	}
	return nil
}
