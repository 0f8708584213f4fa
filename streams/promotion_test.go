package streams_test

import (
	"reflect"
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
)

// TestPolicyForward: a policy saved for an older event never replaces the
// one of a newer event (two admins' saves finishing out of order), and a
// namespace that never set one has the defaults.
func TestPolicyForward(t *testing.T) {
	t.Parallel()
	s, _ := mustStore(t, streams.Config{})
	ctx, ns := testCtx(t), randomNS(t)
	p, err := s.Policy(ctx, ns)
	if err != nil || p.Revision != 0 || p.Value.Protected || p.Value.PromotesFrom == nil {
		t.Fatalf("got %+v %v, want the defaults with empty lists", p, err)
	}
	if err := s.Protected(ctx, ns); err != nil {
		t.Fatalf("unset policy: got %v, want not protected", err)
	}
	newer := domain.Policy{Protected: true, PromotesFrom: []string{"staging"}}
	if err := s.SavePolicy(ctx, ns, newer, 7); err != nil {
		t.Fatal(err)
	}
	if err := s.SavePolicy(ctx, ns, domain.Policy{}, 5); err != nil {
		t.Fatal(err)
	}
	p, err = s.Policy(ctx, ns)
	if err != nil || p.Revision != 7 || !reflect.DeepEqual(p.Value.PromotesFrom, []string{"staging"}) || !p.Value.Protected {
		t.Fatalf("got %+v %v, want revision 7's policy", p, err)
	}
	if err := s.Protected(ctx, ns); domain.ErrorMessage(err) != "protected: promote from staging" {
		t.Fatalf("got %v, want protected: promote from staging", err)
	}
	// The fingerprint the module reported shows where the policy sets none.
	fp := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	if err := s.SaveCredentialFingerprint(ctx, ns, fp); err != nil {
		t.Fatal(err)
	}
	if p, _ = s.Policy(ctx, ns); p.Value.CredentialFingerprint != fp {
		t.Fatalf("got fingerprint %q, want the reported one", p.Value.CredentialFingerprint)
	}
}

// TestPromotionRequestCAS: a request's state moves only from the state
// the caller saw.
func TestPromotionRequestCAS(t *testing.T) {
	t.Parallel()
	s, _ := mustStore(t, streams.Config{})
	ctx := testCtx(t)
	r := domain.PromotionRequest{ID: "0193-a", State: domain.RequestPending, From: randomNS(t), To: randomNS(t)}
	if err := s.SavePromotion(ctx, r); err != nil {
		t.Fatal(err)
	}
	approved := r
	approved.State = domain.RequestApproved
	if ok, err := s.UpdatePromotion(ctx, approved, domain.RequestPending); !ok || err != nil {
		t.Fatalf("pending → approved: got %v %v", ok, err)
	}
	rejected := r
	rejected.State = domain.RequestRejected
	if ok, err := s.UpdatePromotion(ctx, rejected, domain.RequestPending); ok || err != nil {
		t.Fatalf("a second decision: got %v %v, want refused", ok, err)
	}
	out, err := s.Promotions(ctx, r.From, true)
	if err != nil || len(out) != 1 || out[0].State != domain.RequestApproved {
		t.Fatalf("out of the source: got %+v %v, want the approved request", out, err)
	}
	missing := r
	missing.ID = "nope"
	if _, err := s.UpdatePromotion(ctx, missing, domain.RequestPending); domain.ErrorCode(err) != domain.ENOTFOUND {
		t.Fatalf("got %v, want not_found", err)
	}
}
