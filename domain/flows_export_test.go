package domain

// ParseEdit is parseEdit, so that tests can tell the edit was parsed as
// one rather than in full.
var ParseEdit = parseEdit
