package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/flowhist/flowhist/client"
	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"
)

// Promotion between namespaces (docs/promotion.md): promote, drift and the
// cross-namespace diff.

// clientFor is newClient for namespace ns instead of the configured one.
func clientFor(v *viper.Viper, ns string) (*client.Client, error) {
	if err := domain.ValidateNamespace(ns); err != nil {
		return nil, err
	}
	var c config
	readOptions(v, &c)
	return client.New(client.Config{URL: c.cli.url, Token: c.cli.token, Namespace: ns, Channel: domain.ChannelCLI,
		CAFile: c.cli.caFile, CertFile: c.cli.certFile, KeyFile: c.cli.keyFile})
}

func (m *Main) promoteCommand(v *viper.Viper) *cobra.Command {
	var from, to, reason, user string
	var rev uint64
	var dryRun, request, withCreds bool
	cmd := &cobra.Command{
		Use:   "promote --from SOURCE --to TARGET",
		Short: "Promote a namespace's flows onto another, keeping the target's own values",
		Long: `promote shows what taking SOURCE's flows (its head, or --rev N) onto TARGET
would change, node by node, and applies it as one revision of TARGET whose
history names SOURCE's revision and event. TARGET keeps its own env values
and what its overlay declares (flowhist overlay); keys new to it are
flagged. It applies only if TARGET did not move since the preview (exit 4
otherwise). --dry-run only shows; --request records a request for another
person to approve (flowhist promotions), as a protected TARGET requires;
--with-credentials copies the encrypted credentials, which both namespaces'
credential fingerprints must allow.
` + exitCodesHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" || to == "" {
				return domain.Errorf(domain.EINVALID, "promote needs --from SOURCE and --to TARGET")
			}
			if request && dryRun {
				return domain.Errorf(domain.EINVALID, "--request and --dry-run: choose one")
			}
			c, err := clientFor(v, to)
			if err != nil {
				return err
			}
			w := client.Write{User: user}
			body := httpapi.PromoteRequest{From: from, Rev: domain.Revision(rev), DryRun: true, WithCredentials: withCreds, Reason: reason}
			pv, err := c.Promote(cmd.Context(), body, w)
			if err != nil {
				return err
			}
			if dryRun || pv.Preview.Noop {
				if jsonFlag(cmd) {
					return printAnswer(m.Stdout, pv.Preview)
				}
				printPreview(m.Stdout, *pv.Preview, colorsFor(m.Stdout))
				return nil
			}
			// Apply (or request) exactly what was shown.
			body.DryRun, body.Request, body.ExpectedHead = false, request, &pv.Preview.TargetHead
			body.Rev = pv.Preview.Source.Revision
			res, err := c.Promote(cmd.Context(), body, w)
			if err != nil {
				return err
			}
			if jsonFlag(cmd) {
				if res.Request != nil {
					return printAnswer(m.Stdout, res.Request)
				}
				return printAnswer(m.Stdout, res.Applied)
			}
			printPreview(m.Stdout, *pv.Preview, colorsFor(m.Stdout))
			if res.Request != nil {
				fmt.Fprintf(m.Stdout, "requested %s: another person approves it with: flowhist promotions approve -n %s %s\n", res.Request.ID, to, res.Request.ID)
				return nil
			}
			fmt.Fprintf(m.Stdout, "promoted %s@%d to %s as revision %d\n", from, pv.Preview.Source.Revision, to, res.Applied.Revision)
			return nil
		},
	}
	addClientFlags(cmd.Flags())
	fs := cmd.Flags()
	fs.StringVar(&from, "from", "", "the source namespace (required)")
	fs.StringVar(&to, "to", "", "the target namespace (required)")
	fs.Uint64Var(&rev, "rev", 0, "the source's revision (default its head)")
	fs.BoolVar(&dryRun, "dry-run", false, "show the change, apply nothing")
	fs.BoolVar(&request, "request", false, "record a request for another person to approve instead of applying")
	fs.BoolVar(&withCreds, "with-credentials", false, "copy the source's encrypted credentials (same credential secret fingerprint only)")
	fs.StringVar(&reason, "reason", "", "why, recorded in both histories (required with --request)")
	fs.StringVar(&user, "user", "", "the user to act as, for a token that may name one")
	return cmd
}

// printPreview prints what a promotion changes on its target.
func printPreview(w io.Writer, p domain.PromotionPreview, c colors) {
	fmt.Fprintf(w, "%s%s@%d → %s@%d%s\n", c.bold, p.From, p.Source.Revision, p.To, p.TargetHead.Revision, c.reset)
	printChanges(w, p.Diff.FlowsDiff, p.Diff.Credentials.Changed, c)
	for _, k := range p.EnvNew {
		fmt.Fprintf(w, "%snew env %s on %s (arrives with %s's value: check it)%s\n", c.yellow, k.Key, nodeLine(domain.NodeRef{ID: k.Node, Type: k.Type, Name: k.Name}), p.From, c.reset)
	}
	for _, k := range p.EnvOverlaid {
		fmt.Fprintf(w, "env %s on %s: %s's own, not taken from %s\n", k.Key, nodeLine(domain.NodeRef{ID: k.Node, Type: k.Type, Name: k.Name}), p.To, p.From)
	}
	for _, o := range p.OverlayKept {
		fmt.Fprintf(w, "kept %s's %s of node %s (overlay)\n", p.To, o.Path, o.Node)
	}
	for _, n := range p.CredentialsMissing {
		fmt.Fprintf(w, "%scredentials missing on %s: %s%s\n", c.red, p.To, nodeLine(n), c.reset)
	}
	if p.Credentials == domain.CredentialsUnknown && len(p.Diff.Added) > 0 {
		fmt.Fprintf(w, "credentials are encrypted: enter those of new nodes on %s\n", p.To)
	}
}

// errDrift is the error of namespaces that differ (exit 1).
func errDrift(from, to string) error {
	return &domain.Error{Code: domain.EDRIFT, Message: fmt.Sprintf("%s differs from %s beyond its overlay", to, from)}
}

func (m *Main) driftCommand(v *viper.Viper) *cobra.Command {
	var from, to string
	cmd := &cobra.Command{
		Use:   "drift --from SOURCE --to TARGET",
		Short: "List what differs between two namespaces beyond the target's own values",
		Long: `drift shows what promoting SOURCE's head onto TARGET would change: the
nodes that differ, leaving out what TARGET keeps its own (env values,
overlay). It exits 0 when they are the same and 1 when they differ, for a
dashboard or a CI check.
` + exitCodesHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" || to == "" {
				return domain.Errorf(domain.EINVALID, "drift needs --from SOURCE and --to TARGET")
			}
			c, err := clientFor(v, to)
			if err != nil {
				return err
			}
			pv, err := c.Promote(cmd.Context(), httpapi.PromoteRequest{From: from, DryRun: true}, client.Write{})
			if err != nil {
				return err
			}
			if jsonFlag(cmd) {
				if err := printAnswer(m.Stdout, pv.Preview); err != nil {
					return err
				}
			} else {
				printPreview(m.Stdout, *pv.Preview, colorsFor(m.Stdout))
			}
			if !pv.Preview.Noop {
				return errDrift(from, to)
			}
			return nil
		},
	}
	addClientFlags(cmd.Flags())
	cmd.Flags().StringVar(&from, "from", "", "the source namespace (required)")
	cmd.Flags().StringVar(&to, "to", "", "the target namespace (required)")
	return cmd
}

// diffAcross is "diff staging@12 prod@40": flows of two namespaces.
func (m *Main) diffAcross(cmd *cobra.Command, v *viper.Viper, a, b string, positions bool) error {
	var flows [2]*domain.Flows
	for i, arg := range []string{a, b} {
		ns, revText, hasRev := strings.Cut(arg, "@")
		c, err := clientFor(v, ns)
		if err != nil {
			return err
		}
		var doc client.Document
		if hasRev {
			rev, err := parseRev(revText)
			if err != nil {
				return err
			}
			doc, err = c.RevisionFlows(cmd.Context(), rev)
			if err != nil {
				return err
			}
		} else if doc, err = c.Flows(cmd.Context()); err != nil {
			return err
		}
		if flows[i], err = domain.ParseFlows(doc.Body); err != nil {
			return domain.Errorf(domain.EINTERNAL, "flows of %s: %s", arg, domain.ErrorMessage(err))
		}
	}
	d := domain.DiffFlowsNodes(flows[0], flows[1])
	if !positions {
		d = d.WithoutPositionOnly()
	}
	if jsonFlag(cmd) {
		return printAnswer(m.Stdout, d)
	}
	col := colorsFor(m.Stdout)
	fmt.Fprintf(m.Stdout, "%sflows %s → %s%s\n", col.bold, a, b, col.reset)
	printChanges(m.Stdout, d, false, col)
	return nil
}
