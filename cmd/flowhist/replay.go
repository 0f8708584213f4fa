package main

import (
	"encoding/json"
	"fmt"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/projector"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"
)

func (m *Main) replayCommand(v *viper.Viper) *cobra.Command {
	var ns string
	var dryRun, asJSON bool
	cmd := &cobra.Command{
		Use:   "replay --namespace NS [--dry-run]",
		Short: "Rebuild a namespace's projected state from its log",
		Long: `replay deletes the namespace's projected state (current flows, settings,
library and the rest) and rebuilds it by folding the log from revision 1,
showing progress on stderr. The log itself is never changed. It talks to
Valkey directly (--valkey-addr or FLOWHIST_VALKEY_ADDR).

--dry-run changes nothing: it folds the log and says whether replay would
rewrite any state, and which key.

Exit codes: 0 success (with --dry-run: whether or not replay would change
anything); 1 a revision in the log does not fold (it is named) or an
internal error; 2 bad flags; 3 the namespace has no log; 6 Valkey
unreachable.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, closeFn, err := openNamespace(v, ns)
			if err != nil {
				return err
			}
			defer closeFn()
			ctx := cmd.Context()
			if dryRun {
				r, err := m.verifyShowingProgress(ctx, store, ns, "replay --dry-run")
				if err != nil {
					return err
				}
				if asJSON {
					data, _ := json.Marshal(r)
					if err := printJSON(m.Stdout, data); err != nil {
						return err
					}
				}
				switch {
				case r.BadRevision > 0:
					return &domain.Error{Code: domain.ECORRUPT, Message: fmt.Sprintf("namespace %s: revision %d is bad: %s (replay would stop there)", ns, r.BadRevision, r.Problem)}
				case asJSON:
				case r.OK:
					fmt.Fprintf(m.Stdout, "nothing would change: state matches the log at revision %d\n", r.Revisions)
				default:
					fmt.Fprintf(m.Stdout, "replay would rewrite %s: %s\n", r.BadKey, r.Problem)
				}
				return nil
			}
			head, err := store.Head(ctx, ns)
			if err != nil {
				return err
			}
			if head.Revision == 0 {
				return domain.Errorf(domain.ENOTFOUND, "namespace %s has no log: check the name", ns)
			}
			proj, err := projector.New(store, projector.Config{}, nil)
			if err != nil {
				return err
			}
			bar := newProgress(m.Stderr, "replay")
			rev, err := proj.RebuildProgress(ctx, ns, bar.update)
			bar.done()
			if err != nil {
				return err
			}
			if asJSON {
				data, _ := json.Marshal(map[string]any{"namespace": ns, "revisions": rev})
				return printJSON(m.Stdout, data)
			}
			fmt.Fprintf(m.Stdout, "replayed %d revisions; state rebuilt\n", rev)
			return nil
		},
	}
	cmd.Flags().StringVarP(&ns, "namespace", "n", "", "namespace to replay (required)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "change nothing; say what replay would rewrite")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.MarkFlagRequired("namespace")
	addValkeyFlags(cmd.Flags())
	return cmd
}
