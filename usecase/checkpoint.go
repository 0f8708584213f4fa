package usecase

import (
	"context"
	"crypto/ed25519"
	"time"

	"github.com/flowhist/flowhist/checkpoint"
	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/projector"
)

// Checkpoint signs ns's head as this process verified it (the projector's
// fold and the link it checked up to, never meta's word; an App without a
// projector, a tool's, verifies the whole log first) with priv and stores
// the checkpoint in Valkey. With onlyMoved, a head the newest stored
// checkpoint covers already is not signed again (signed is false then).
// A namespace with no events has nothing to sign.
//
// Errors: ECORRUPT (the namespace's chain breaks: nothing is signed),
// EUNAVAILABLE, EINVALID (an empty namespace).
func (a *App) Checkpoint(ctx context.Context, ns string, priv ed25519.PrivateKey, onlyMoved bool) (c checkpoint.Checkpoint, signed bool, err error) {
	rev, link, err := a.verifiedHead(ctx, ns)
	if err != nil {
		return c, false, err
	}
	if rev == 0 {
		return c, false, domain.Errorf(domain.EINVALID, "namespace %s has no events to sign", ns)
	}
	if onlyMoved {
		last, err := a.store.LastCheckpoint(ctx, ns)
		if err != nil {
			return c, false, err
		}
		if prev, err := checkpoint.Unmarshal(last); err == nil && prev.Revision == rev && prev.Hash == link {
			return prev, false, nil
		}
	}
	if c, err = checkpoint.Sign(priv, ns, rev, link, time.Now()); err != nil {
		return c, false, err
	}
	if err := a.store.AddCheckpoint(ctx, ns, c.Marshal()); err != nil {
		return c, false, err
	}
	return c, true, nil
}

// CheckpointAll signs the head of every namespace whose head moved since
// its last checkpoint, and returns how many it signed. A namespace that
// fails is skipped (its error, the first, is returned after the others
// were tried): a broken chain in one must not stop the others' checkpoints.
func (a *App) CheckpointAll(ctx context.Context, priv ed25519.PrivateKey) (int, error) {
	names, err := a.store.Namespaces(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	var first error
	for _, ns := range names {
		_, signed, err := a.Checkpoint(ctx, ns, priv, true)
		switch {
		case err != nil && domain.ErrorCode(err) == domain.EINVALID:
			// Nothing to sign yet.
		case err != nil && first == nil:
			first = err
		case signed:
			n++
		}
	}
	return n, first
}

// verifiedHead is the revision and link up to which ns's chain is checked.
func (a *App) verifiedHead(ctx context.Context, ns string) (domain.Revision, string, error) {
	if a.proj != nil {
		return a.proj.Verified(ctx, ns)
	}
	r, err := projector.Verify(ctx, a.store, ns)
	if err != nil {
		return 0, "", err
	}
	if r.BadRevision > 0 {
		// A stale projected state (BadKey) does not matter to what is
		// signed: the log does.
		return 0, "", domain.Errorf(domain.ECORRUPT, "namespace %s: revision %d is bad: %s: nothing is signed", ns, r.BadRevision, r.Problem)
	}
	return r.Revisions, r.ChainHead, nil
}
