package usecase

import (
	"context"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
)

// ActivateProject records the Node-RED project active on the admin.
type ActivateProject struct {
	Request
	Name string
}

// ActivateProject appends a project.activated event.
//
// Errors: EINVALID, ECONFLICT, EUNAVAILABLE, ECANCELED.
func (a *App) ActivateProject(ctx context.Context, p ActivateProject) (streams.AppendResult, error) {
	e, err := domain.NewProjectEvent(p.Namespace, p.Name, p.Origin)
	if err != nil {
		return streams.AppendResult{}, err
	}
	return a.appendEvent(ctx, e, p.Expected, p.IdempotencyKey)
}
