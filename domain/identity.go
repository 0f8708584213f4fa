package domain

// Who an event is recorded as. The token a request authenticated with is
// the one fact flowhist knows; the user is the token's name unless the
// token is trusted to name the users it acts for (Node-RED's admin names
// its editor users); the channel, and whatever an import's source says,
// are the client's claims and are recorded as such.

// Credential is the token a request authenticated with, as the identity
// rule needs it.
type Credential struct {
	// Name is the token's name (auth.tokens[].name).
	Name string
	// AssertUsers is true for a token trusted to name another user
	// (auth.tokens[].assert_users).
	AssertUsers bool
}

// Claim is who a source says acted, recorded as it says and never checked:
// the actor of an event an import copied from another history.
type Claim struct {
	User    string `json:"user,omitempty"`
	Token   string `json:"token,omitempty"`
	Channel string `json:"channel,omitempty"`
}

// IsZero reports whether c claims nothing.
func (c Claim) IsZero() bool { return c == Claim{} }

// MaxClaim is the longest value of a claim's field, in bytes.
const MaxClaim = 200

// Validate checks that each of c's fields is printable text of at most
// MaxClaim bytes, naming the field as what + " user" etc.
//
// Errors: EINVALID.
func (c Claim) Validate(what string) error {
	for _, f := range []struct{ name, v string }{{"user", c.User}, {"token", c.Token}, {"channel", c.Channel}} {
		if err := ValidateLabel(what+" "+f.name, f.v, MaxClaim); err != nil {
			return err
		}
	}
	return nil
}

// Attribute decides who a request acts as: the user it names (a request
// header, a deploy's "user"), or without one the token's name. Only a
// credential with AssertUsers may name a user other than its own name; a
// nil credential (authentication disabled) may name anyone, as there is no
// token to bind the user to.
//
// Errors: EFORBIDDEN naming the option that allows it.
func Attribute(c *Credential, user string) (string, error) {
	switch {
	case c == nil:
		return user, nil
	case user == "" || user == c.Name:
		return c.Name, nil
	case c.AssertUsers:
		return user, nil
	}
	return "", Errorf(EFORBIDDEN, "token %s may not act as user %q: only a token with auth.tokens[].assert_users: true (Node-RED's admin, which names its editor users) may name another user; send no user to act as %s",
		c.Name, Clip(user), c.Name)
}
