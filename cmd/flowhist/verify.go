package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/flowhist/flowhist/checkpoint"
	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/projector"
	"github.com/flowhist/flowhist/streams"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"
)

func (m *Main) verifyCommand(v *viper.Viper) *cobra.Command {
	var ns, checkpoints, publicKey string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "verify --namespace NS [--checkpoints FILE --public-key PUB]",
		Short: "Check a namespace's hash chain and signed checkpoints, fold its whole log and compare the projected state",
		Long: `verify reads the namespace's log from revision 1 and folds it, checking the
hash chain (every entry's link covers its bytes and its predecessor's link),
that revisions are gapless and that every flows revision rebuilds to its
recorded sha256, then compares the projected state keys with the fold. It
writes nothing. It exits 0 when everything matches and 1 naming the first
bad revision or key otherwise.

With --checkpoints (JSON lines from 'flowhist checkpoint export', kept
outside Valkey) and --public-key (the KEY.pub of 'flowhist keygen'), it
also checks each checkpoint's signature and that the log still has, at
the checkpoint's revision, the link it signed: this proves the log holds,
byte for byte, every event the checkpoints cover, even after someone with
write access to Valkey rewrote the whole chain or put every key back to an
earlier state. It exits 1 naming the first checkpoint that no longer
matches.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			expect, err := readExpected(ns, checkpoints, publicKey)
			if err != nil {
				return err
			}
			store, closeFn, err := openNamespace(v, ns)
			if err != nil {
				return err
			}
			defer closeFn()
			bar := newProgress(m.Stderr, "verify")
			r, err := projector.VerifyWith(cmd.Context(), store, ns, projector.Options{Progress: bar.update, Expect: expect})
			bar.done()
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(m.Stdout)
				enc.SetIndent("", "  ")
				enc.Encode(r)
			} else if r.OK {
				fmt.Fprintf(m.Stdout, "namespace %s: %d revisions verified, state matches the log\n", ns, r.Revisions)
				fmt.Fprintf(m.Stdout, "namespace %s: hash chain intact from revision %d%s, head link %s\n", ns, r.ChainStart, anchored(r), r.ChainHead)
				if checkpoints != "" {
					fmt.Fprintf(m.Stdout, "namespace %s: %d signed checkpoints match the log\n", ns, r.Checkpoints)
				}
				if r.NodeIndexIncomplete {
					fmt.Fprintf(m.Stdout, "namespace %s: its node index was written before flowhist kept one: node history reads the whole log until 'flowhist replay -n %s' builds it\n", ns, ns)
				}
			}
			return reportError(ns, r)
		},
	}
	cmd.Flags().StringVarP(&ns, "namespace", "n", "", "namespace to verify (required)")
	cmd.Flags().StringVar(&checkpoints, "checkpoints", "", "signed checkpoints (JSON lines of flowhist checkpoint export) the log must still match")
	cmd.Flags().StringVar(&publicKey, "public-key", "", "the Ed25519 public key (KEY.pub of flowhist keygen) the checkpoints are signed with")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.MarkFlagRequired("namespace")
	addValkeyFlags(cmd.Flags())
	return cmd
}

// reportError is the error of a report that is not OK, nil for one that is.
func reportError(ns string, r projector.Report) error {
	switch {
	case r.OK:
		return nil
	case r.BadCheckpoint != "":
		return &domain.Error{Code: domain.ECORRUPT, Message: fmt.Sprintf("namespace %s: %s", ns, r.Problem)}
	case r.BadRevision > 0:
		return &domain.Error{Code: domain.ECORRUPT, Message: fmt.Sprintf("namespace %s: revision %d is bad: %s", ns, r.BadRevision, r.Problem)}
	default:
		return &domain.Error{Code: domain.ECORRUPT, Message: fmt.Sprintf("namespace %s: key %s is bad: %s (flowhist replay rebuilds it)", ns, r.BadKey, r.Problem)}
	}
}

// anchored says, for a chain that starts after revision 1, that the
// revisions before it are covered by the anchor.
func anchored(r projector.Report) string {
	if r.ChainStart <= 1 {
		return ""
	}
	return fmt.Sprintf(" (revisions 1 to %d, written before the chain, are covered by its anchor)", r.ChainStart-1)
}

// readExpected reads the checkpoints of ns in file, checks each signature
// with the public key in pubFile, and returns the links they expect.
// Checkpoints of other namespaces are skipped.
//
// Errors: EINVALID (a flag without the other, a file that cannot be read,
// a line that is not a checkpoint, a signature that does not verify).
func readExpected(ns, file, pubFile string) ([]projector.Expected, error) {
	if file == "" && pubFile == "" {
		return nil, nil
	}
	if file == "" || pubFile == "" {
		return nil, domain.Errorf(domain.EINVALID, "--checkpoints and --public-key go together: give both")
	}
	pub, err := checkpoint.LoadPublicKey(pubFile)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, domain.Errorf(domain.EINVALID, "cannot read --checkpoints %s: %v", file, errors.Unwrap(err))
	}
	defer f.Close()
	all, err := checkpoint.ReadLines(f)
	if err != nil {
		return nil, domain.Errorf(domain.EINVALID, "%s: %s", file, domain.ErrorMessage(err))
	}
	var out []projector.Expected
	for _, c := range all {
		if c.Namespace != ns {
			continue
		}
		if err := c.Verify(pub); err != nil {
			return nil, domain.Errorf(domain.EINVALID, "%s: %s", file, domain.ErrorMessage(err))
		}
		out = append(out, projector.Expected{Revision: c.Revision, Hash: c.Hash, Label: c.String()})
	}
	if len(out) == 0 {
		return nil, domain.Errorf(domain.EINVALID, "%s has no checkpoint of namespace %s: export them with flowhist checkpoint export -n %s", file, ns, ns)
	}
	return out, nil
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
