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

func (m *Main) overlayCommand(v *viper.Viper) *cobra.Command {
	var props, env []string
	var clear bool
	cmd := &cobra.Command{
		Use:   "overlay",
		Short: "Show or set what a namespace keeps its own through promotions",
		Long: `overlay shows the namespace's (-n) overlay: node properties (NODE:PATH, a
dotted path such as url or headers.auth) and env names that promotions
into it never overwrite. --set-property and --set-env (repeatable) replace
the overlay with the ones given; --clear empties it. Setting needs the
admin scope.
` + exitCodesHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newClient(v)
			if err != nil {
				return err
			}
			set := clear || len(props) > 0 || len(env) > 0
			if clear && (len(props) > 0 || len(env) > 0) {
				return domain.Errorf(domain.EINVALID, "--clear with --set-property or --set-env: choose one")
			}
			var o httpapi.Overlay
			if !set {
				o, err = c.Overlay(cmd.Context())
			} else {
				next := domain.Overlay{Properties: []domain.OverlayProperty{}, Env: env}
				for _, p := range props {
					node, path, ok := strings.Cut(p, ":")
					if !ok || node == "" || path == "" {
						return domain.Errorf(domain.EINVALID, "--set-property %q is not NODE:PATH (such as a1b2c3:url)", p)
					}
					next.Properties = append(next.Properties, domain.OverlayProperty{Node: node, Path: path})
				}
				o, err = c.SetOverlay(cmd.Context(), next, client.Write{})
			}
			if err != nil {
				return err
			}
			if jsonFlag(cmd) {
				return printAnswer(m.Stdout, o)
			}
			printOverlay(m.Stdout, o.Overlay)
			return nil
		},
	}
	addClientFlags(cmd.Flags())
	cmd.Flags().StringArrayVar(&props, "set-property", nil, "a node property the namespace keeps: NODE:PATH (repeatable)")
	cmd.Flags().StringArrayVar(&env, "set-env", nil, "an env name the namespace keeps (repeatable)")
	cmd.Flags().BoolVar(&clear, "clear", false, "empty the overlay")
	return cmd
}

func printOverlay(w io.Writer, o domain.Overlay) {
	if len(o.Properties)+len(o.Env) == 0 {
		fmt.Fprintln(w, "no overlay: promotions keep env values only")
		return
	}
	for _, p := range o.Properties {
		fmt.Fprintf(w, "property %s:%s\n", oneLine(p.Node, 200), oneLine(p.Path, 200))
	}
	for _, e := range o.Env {
		fmt.Fprintf(w, "env %s\n", oneLine(e, 200))
	}
}

func (m *Main) policyCommand(v *viper.Viper) *cobra.Command {
	var p domain.Policy
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Show or set a namespace's promotion policy (protection, sources, targets)",
		Long: `policy shows the namespace's (-n) promotion policy; any flag given sets
that field and keeps the others (admin scope). --protected refuses direct
deploys: only promotions (reviewed, unless --direct-promotions) and
rollbacks land. --promotes-from names the sources it takes promotions from;
--promotion-target the namespaces the editor offers "Promote to …" for;
--credential-fingerprint the fingerprint of its Node-RED credential secret.
` + exitCodesHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newClient(v)
			if err != nil {
				return err
			}
			cur, err := c.Policy(cmd.Context())
			if err != nil {
				return err
			}
			fs := cmd.Flags()
			next, set := cur.Policy, false
			for _, f := range []struct {
				name string
				copy func()
			}{
				{"protected", func() { next.Protected = p.Protected }},
				{"promotes-from", func() { next.PromotesFrom = p.PromotesFrom }},
				{"promotion-target", func() { next.PromotionTargets = p.PromotionTargets }},
				{"direct-promotions", func() { next.DirectPromotions = p.DirectPromotions }},
				{"credential-fingerprint", func() { next.CredentialFingerprint = p.CredentialFingerprint }},
			} {
				if fs.Changed(f.name) {
					f.copy()
					set = true
				}
			}
			if set {
				if cur, err = c.SetPolicy(cmd.Context(), next, client.Write{}); err != nil {
					return err
				}
			}
			if jsonFlag(cmd) {
				return printAnswer(m.Stdout, cur)
			}
			fmt.Fprintf(m.Stdout, "protected: %v\npromotes from: %s\npromotion targets: %s\ndirect promotions: %v\ncredential fingerprint: %s\n",
				cur.Protected, orNone(strings.Join(cur.PromotesFrom, ", ")), orNone(strings.Join(cur.PromotionTargets, ", ")), cur.DirectPromotions, orNone(cur.CredentialFingerprint))
			return nil
		},
	}
	addClientFlags(cmd.Flags())
	fs := cmd.Flags()
	fs.BoolVar(&p.Protected, "protected", false, "refuse direct deploys: only promotions and rollbacks land")
	fs.StringSliceVar(&p.PromotesFrom, "promotes-from", nil, "the namespaces it takes promotions from")
	fs.StringSliceVar(&p.PromotionTargets, "promotion-target", nil, "the namespaces the editor offers to promote to")
	fs.BoolVar(&p.DirectPromotions, "direct-promotions", false, "take promotions without review even when protected")
	fs.StringVar(&p.CredentialFingerprint, "credential-fingerprint", "", "the fingerprint of the Node-RED credential secret (64 hex)")
	return cmd
}
