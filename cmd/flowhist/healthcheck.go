package main

import (
	"fmt"
	"net/http"
	"time"

	"github.com/flowhist/flowhist/client"
	"github.com/flowhist/flowhist/domain"
	"github.com/spf13/cobra"
)

// healthcheckCommand is the container image's health check: the image has
// no shell and no curl, so the binary asks itself.
func (m *Main) healthcheckCommand() *cobra.Command {
	var url string
	var timeout time.Duration
	var files client.Config // its TLS files only
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Exit 0 if a flowhist server answers 200 on /readyz (for container health checks)",
		Long: `healthcheck GETs --url (default http://127.0.0.1:8080/readyz) and exits 0 on
200, 6 otherwise: Docker's HEALTHCHECK and Kubernetes' exec probes can use
it where the image has no curl. Behind listen_tls: an https:// URL, with
--ca-file for a private CA and --cert-file/--key-file for client_ca_file.
` + exitCodesHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tc, err := files.TLS()
			if err != nil {
				return err
			}
			c := &http.Client{Timeout: timeout, Transport: &http.Transport{TLSClientConfig: tc}}
			res, err := c.Get(url)
			if err != nil {
				return domain.Errorf(domain.EUNAVAILABLE, "%s: %v", url, err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				return domain.Errorf(domain.EUNAVAILABLE, "%s answered %s", url, res.Status)
			}
			fmt.Fprintln(m.Stdout, "ok")
			return nil
		},
	}
	cmd.Flags().StringVar(&url, "url", "http://127.0.0.1:8080/readyz", "URL to check")
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "how long to wait for the answer")
	cmd.Flags().StringVar(&files.CAFile, "ca-file", "", "PEM of the CA that signed the server's certificate")
	cmd.Flags().StringVar(&files.CertFile, "cert-file", "", "client certificate (PEM), for listen_tls.client_ca_file")
	cmd.Flags().StringVar(&files.KeyFile, "key-file", "", "the client certificate's key (PEM)")
	return cmd
}
