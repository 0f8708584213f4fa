package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"time"

	"github.com/flowhist/flowhist/checkpoint"
	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/usecase"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"
	"go.uber.org/zap"
)

// loadSigner reads serve's audit signing key, nil when none is configured.
func loadSigner(cfg serveConfig) (ed25519.PrivateKey, error) {
	if cfg.AuditKeyFile == "" {
		return nil, nil
	}
	if cfg.CheckpointEvery < time.Second {
		return nil, domain.Errorf(domain.EINVALID, "audit.checkpoint_every is %s: set it to 1s or more", cfg.CheckpointEvery)
	}
	return checkpoint.LoadPrivateKey(cfg.AuditKeyFile)
}

// signCheckpoints signs every namespace whose head moved, every interval,
// until ctx is done. A failing round is logged once, as is the first that
// succeeds after it.
func signCheckpoints(ctx context.Context, app *usecase.App, priv ed25519.PrivateKey, every time.Duration, log *zap.Logger) {
	log.Info("signing checkpoints", zap.String("key", checkpoint.KeyID(priv.Public().(ed25519.PublicKey))), zap.Duration("every", every))
	failing := false
	for sleep(ctx, every) {
		rctx, cancel := context.WithTimeout(ctx, every)
		n, err := app.CheckpointAll(rctx, priv)
		cancel()
		switch {
		case ctx.Err() != nil:
		case err != nil && !failing:
			failing = true
			log.Warn("signing checkpoints failed for a namespace; the others were signed", zap.Error(err))
		case err == nil && failing:
			failing = false
			log.Info("signing checkpoints works again", zap.Int("signed", n))
		}
	}
}

func (m *Main) checkpointCommand(v *viper.Viper) *cobra.Command {
	var ns, keyFile string
	cmd := &cobra.Command{
		Use:   "checkpoint -n NS",
		Short: "Verify a namespace's log and sign its head (a checkpoint), stored in Valkey",
		Long: `checkpoint verifies the namespace's log (as flowhist verify does) and, if
it holds, signs its head — namespace, revision, hash-chain link, time — with
the Ed25519 key of audit.signing_key_file (or --key) and stores the
checkpoint in Valkey. It prints the checkpoint as one JSON line. serve signs
every audit.checkpoint_every on its own; 'flowhist checkpoint export' copies
them out, to be kept where Valkey's operators cannot write.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if keyFile == "" {
				keyFile = v.GetString("audit.signing_key_file")
			}
			if keyFile == "" {
				return domain.Errorf(domain.EINVALID, "no signing key: set audit.signing_key_file or pass --key (write one with flowhist keygen --out KEY)")
			}
			priv, err := checkpoint.LoadPrivateKey(keyFile)
			if err != nil {
				return err
			}
			store, closeFn, err := openNamespace(v, ns)
			if err != nil {
				return err
			}
			defer closeFn()
			// Without a projector, the use case verifies the whole log.
			c, _, err := usecase.New(store, nil, nil, usecase.Config{}, nil, usecase.Metrics{}).Checkpoint(cmd.Context(), ns, priv, false)
			if err != nil {
				return err
			}
			fmt.Fprintf(m.Stdout, "%s\n", c.Marshal())
			return nil
		},
	}
	cmd.Flags().StringVarP(&ns, "namespace", "n", "", "namespace to sign (required)")
	cmd.Flags().StringVar(&keyFile, "key", "", "Ed25519 private key (default audit.signing_key_file)")
	cmd.MarkFlagRequired("namespace")
	addValkeyFlags(cmd.Flags())
	cmd.AddCommand(m.checkpointExportCommand(v))
	return cmd
}

func (m *Main) checkpointExportCommand(v *viper.Viper) *cobra.Command {
	var ns, since, out string
	cmd := &cobra.Command{
		Use:   "export [-n NS] [--since T] -o FILE",
		Short: "Write the stored checkpoints as JSON lines, to keep outside Valkey",
		Long: `export writes the checkpoints stored in Valkey — of one namespace, or of
every namespace — signed at or after --since (RFC 3339 or a duration such as
720h; default all), oldest first, one JSON object a line, to FILE ("-":
standard output). Keep the file where Valkey's operators cannot write (a
bucket with object lock, a SIEM, a printout): flowhist verify --checkpoints
proves the log still holds every event those checkpoints cover.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			from, err := parseSince(since, time.Now())
			if err != nil {
				return err
			}
			if out == "" {
				return domain.Errorf(domain.EINVALID, "say where to write: -o FILE (or -o - for standard output)")
			}
			store, closeFn, err := openStore(v)
			if err != nil {
				return err
			}
			defer closeFn()
			names := []string{ns}
			if ns == "" {
				if names, err = store.Namespaces(cmd.Context()); err != nil {
					return err
				}
			} else if err := domain.ValidateNamespace(ns); err != nil {
				return err
			}
			w := m.Stdout
			var f *os.File
			if out != "-" {
				if f, err = os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644); err != nil {
					return domain.Errorf(domain.EINVALID, "cannot write %s: %v", out, err)
				}
				defer f.Close()
				w = f
			}
			n := 0
			for _, name := range names {
				err := store.Checkpoints(cmd.Context(), name, from, func(b []byte) error {
					c, err := checkpoint.Unmarshal(b)
					if err != nil || c.Time.Before(from) {
						return nil // not one of ours, or before --since
					}
					n++
					return checkpoint.WriteLines(w, []checkpoint.Checkpoint{c})
				})
				if err != nil {
					return err
				}
			}
			if f != nil {
				if err := f.Close(); err != nil {
					return domain.Errorf(domain.EINVALID, "cannot write %s: %v", out, err)
				}
				fmt.Fprintf(m.Stderr, "%d checkpoints written to %s\n", n, out)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&ns, "namespace", "n", "", "namespace (default every namespace)")
	cmd.Flags().StringVar(&since, "since", "", "only checkpoints signed at or after this time (RFC 3339) or this long ago (720h)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "file to write (\"-\": standard output)")
	addValkeyFlags(cmd.Flags())
	return cmd
}

func (m *Main) keygenCommand() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "keygen --out KEY",
		Short: "Write an Ed25519 key pair for signing checkpoints: KEY (private, mode 0600) and KEY.pub",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pub, err := checkpoint.GenerateKey(out)
			if err != nil {
				return err
			}
			fmt.Fprintf(m.Stdout, "wrote %s (private, mode 0600: set audit.signing_key_file to it) and %s.pub (key id %s: give it to whoever verifies)\n", out, out, checkpoint.KeyID(pub))
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "path of the private key; the public key goes to PATH.pub (required)")
	cmd.MarkFlagRequired("out")
	return cmd
}

// parseSince reads a --since: empty (the beginning), RFC 3339, or a
// duration before now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, domain.Errorf(domain.EINVALID, "--since %q is neither a time (2026-01-02T15:04:05Z) nor a duration (720h)", s)
}
