package usecase

import (
	"context"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
)

// Deploy is a deploy of a flows document, with Node-RED's encrypted
// credentials when they are saved in the same deploy (one event).
type Deploy struct {
	Request
	Flows *domain.Flows
	// Credentials is the credentials JSON in its canonical form; nil
	// leaves them as they are.
	Credentials []byte
}

// Deploy appends d as one flows.deployed event: a patch against the
// current document (see appendFlows for the turns and retries).
//
// Errors: EINVALID, EFORBIDDEN (a protected namespace), ECONFLICT, EUNAVAILABLE (with a non-zero Revision when
// the event landed but its durability fell short), ECANCELED.
func (a *App) Deploy(ctx context.Context, d Deploy) (streams.FlowsResult, error) {
	if err := a.direct(ctx, d.Namespace); err != nil {
		return streams.FlowsResult{}, err
	}
	return a.appendFlows(ctx, d.Request, domain.FlowsChange{Flows: d.Flows, Credentials: d.Credentials})
}
