package usecase

import (
	"context"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
)

// SaveLibrary is a save of one entry of Node-RED's library.
type SaveLibrary struct {
	Request
	Entry domain.LibraryEntry
}

// SaveLibrary appends a library.saved event of the entry.
//
// Errors: EINVALID, ECONFLICT, EUNAVAILABLE, ECANCELED.
func (a *App) SaveLibrary(ctx context.Context, l SaveLibrary) (streams.AppendResult, error) {
	e, err := domain.NewLibraryEvent(l.Namespace, l.Entry, l.Origin)
	if err != nil {
		return streams.AppendResult{}, err
	}
	return a.appendEvent(ctx, e, l.Expected, l.IdempotencyKey)
}
