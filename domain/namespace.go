package domain

// MaxNamespaceLen is the longest namespace name accepted.
const MaxNamespaceLen = 64

// ValidateNamespace checks that ns can name a namespace: 1 to 64 characters
// from [A-Za-z0-9_.-], not starting with '.' or '-'. Braces, colons and
// slashes are excluded because they would break key hash tags and URL paths.
// It returns EINVALID naming the fault.
func ValidateNamespace(ns string) error {
	if ns == "" {
		return Errorf(EINVALID, "namespace is empty")
	}
	if len(ns) > MaxNamespaceLen {
		return Errorf(EINVALID, "namespace %.20q… is longer than %d characters", ns, MaxNamespaceLen)
	}
	if ns[0] == '.' || ns[0] == '-' {
		return Errorf(EINVALID, "namespace %q must start with a letter, digit or '_'", ns)
	}
	for i := 0; i < len(ns); i++ {
		c := ns[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '.', c == '-':
		default:
			return Errorf(EINVALID, "namespace %q has %q at position %d; use only letters, digits, '_', '.' and '-'", ns, string(rune(c)), i)
		}
	}
	return nil
}
