package usecase

import (
	"context"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
)

// SaveCredentials is a save of Node-RED's encrypted credentials alone; a
// deploy that changes flows too is a Deploy.
type SaveCredentials struct {
	Request
	// Credentials is the credentials JSON in its canonical form.
	Credentials []byte
}

// SaveCredentials appends a credentials.saved event to the flows
// aggregate.
//
// Errors: those of Deploy.
func (a *App) SaveCredentials(ctx context.Context, c SaveCredentials) (streams.FlowsResult, error) {
	if err := a.direct(ctx, c.Namespace); err != nil {
		return streams.FlowsResult{}, err
	}
	return a.appendFlows(ctx, c.Request, domain.FlowsChange{Type: domain.CredentialsSaved, Credentials: c.Credentials})
}
