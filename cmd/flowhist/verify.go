package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/projector"
	"github.com/flowhist/flowhist/streams"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"
)

func (m *Main) verifyCommand(v *viper.Viper) *cobra.Command {
	var ns string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "verify --namespace NS",
		Short: "Fold a namespace's whole log, check every revision's sha256 and that the projected state equals the fold",
		Long: `verify reads the namespace's log from revision 1 and folds it, checking that
revisions are gapless and that every flows revision rebuilds to its recorded
sha256, then compares the projected state keys with the fold. It writes
nothing. It exits 0 when everything matches and 1 naming the first bad
revision or key otherwise.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, closeFn, err := openNamespace(v, ns)
			if err != nil {
				return err
			}
			defer closeFn()
			r, err := m.verifyShowingProgress(cmd.Context(), store, ns, "verify")
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(m.Stdout)
				enc.SetIndent("", "  ")
				enc.Encode(r)
			} else if r.OK {
				fmt.Fprintf(m.Stdout, "namespace %s: %d revisions verified, state matches the log\n", ns, r.Revisions)
				if r.NodeIndexIncomplete {
					fmt.Fprintf(m.Stdout, "namespace %s: its node index was written before flowhist kept one: node history reads the whole log until 'flowhist replay -n %s' builds it\n", ns, ns)
				}
			}
			switch {
			case r.OK:
				return nil
			case r.BadRevision > 0:
				return &domain.Error{Code: domain.ECORRUPT, Message: fmt.Sprintf("namespace %s: revision %d is bad: %s", ns, r.BadRevision, r.Problem)}
			default:
				return &domain.Error{Code: domain.ECORRUPT, Message: fmt.Sprintf("namespace %s: key %s is bad: %s (flowhist replay rebuilds it)", ns, r.BadKey, r.Problem)}
			}
		},
	}
	cmd.Flags().StringVarP(&ns, "namespace", "n", "", "namespace to verify (required)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.MarkFlagRequired("namespace")
	addValkeyFlags(cmd.Flags())
	return cmd
}

// openNamespace checks ns and opens the store, as openStore does.
func openNamespace(v *viper.Viper, ns string) (*streams.Store, func(), error) {
	if err := domain.ValidateNamespace(ns); err != nil {
		return nil, nil, err
	}
	return openStore(v)
}

// verifyShowingProgress verifies ns with a progress bar labelled label on
// stderr.
func (m *Main) verifyShowingProgress(ctx context.Context, store *streams.Store, ns, label string) (projector.Report, error) {
	bar := newProgress(m.Stderr, label)
	defer bar.done()
	return projector.VerifyProgress(ctx, store, ns, bar.update)
}

// openStore connects to Valkey and returns the store and a function that
// closes the connection.
func openStore(v *viper.Viper) (*streams.Store, func(), error) {
	vc, err := valkeyConfig(v)
	if err != nil {
		return nil, nil, err
	}
	client, err := newValkeyClient(vc)
	if err != nil {
		return nil, nil, err
	}
	store, err := streams.New(client, streams.Config{}, nil)
	if err != nil {
		client.Close()
		return nil, nil, err
	}
	return store, client.Close, nil
}
