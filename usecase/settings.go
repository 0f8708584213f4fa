package usecase

import (
	"context"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
)

// SaveSettings is a save of Node-RED's runtime settings.
type SaveSettings struct {
	Request
	// Settings is the document in its canonical form
	// (domain.CanonicalSettings: no _credentialSecret).
	Settings []byte
}

// SettingsSaved is what SaveSettings appended.
type SettingsSaved struct {
	streams.AppendResult
	// PackagesRevision is the revision of the packages.changed event the
	// settings implied, 0 if none.
	PackagesRevision domain.Revision
}

// SaveSettings appends a settings.saved event and, when the user-installed
// modules changed, the packages.changed event that follows from it, under
// an idempotency key of its own (packagesKey), as long as these settings
// are still the newest. A retry of a save that landed (maybe answered 503
// for its durability) appends the packages it implies all the same.
//
// Errors: EINVALID, ECONFLICT, EUNAVAILABLE (with a non-zero Revision when
// the settings landed), ECANCELED.
func (a *App) SaveSettings(ctx context.Context, s SaveSettings) (SettingsSaved, error) {
	e, err := domain.NewSettingsEvent(s.Namespace, s.Settings, s.Origin)
	if err != nil {
		return SettingsSaved{}, err
	}
	res, err := a.appendEvent(ctx, e, s.Expected, s.IdempotencyKey)
	out := SettingsSaved{AppendResult: res}
	if res.Revision == 0 {
		return out, err // nothing landed
	}
	pres, perr := a.appendPackagesOf(ctx, s, res)
	if err != nil {
		return out, err
	}
	out.PackagesRevision = pres
	return out, perr
}

// appendPackagesOf appends the packages.changed event that the settings
// saved at res imply, if any, and returns its revision (0: none).
func (a *App) appendPackagesOf(ctx context.Context, s SaveSettings, res streams.AppendResult) (domain.Revision, error) {
	var current []domain.Package
	var newest bool
	if err := a.proj.View(ctx, s.Namespace, func(st *domain.State) error {
		current, newest = st.Packages, st.Aggregates[domain.AggregateSettings] == res.AggregateRevision
		return nil
	}); err != nil {
		return 0, err
	}
	if !newest {
		return 0, nil // newer settings said what is installed
	}
	pe, err := domain.NewPackagesEvent(s.Namespace, s.Settings, current, s.Origin)
	if err != nil || pe == nil {
		return 0, err
	}
	pres, err := a.appendEvent(ctx, *pe, domain.ExpectAny, packagesKey(s.IdempotencyKey))
	return pres.Revision, err
}

// packagesKey is the idempotency key of the packages.changed event that
// follows a settings save made with key: the settings.saved took the key
// itself. A key too long to take the suffix (keys are at most 200 bytes)
// is hashed first, so that this append cannot fail on it after the
// settings landed. No key, none.
func packagesKey(key string) string {
	const suffix = ":packages"
	if key == "" {
		return ""
	}
	if len(key) > maxIdempotencyKey-len(suffix) {
		key = domain.SHA256Hex([]byte(key))
	}
	return key + suffix
}

// maxIdempotencyKey is the longest idempotency key the store takes.
const maxIdempotencyKey = 200
