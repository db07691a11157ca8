package config

// Secret is a credential. Its String, GoString and text/JSON encodings are masked, so a Secret printed by
// accident (a %v of a config struct, a log field) shows "******" and never the value. Reveal is the one way
// to read it, and is called only where the value goes on the wire.
type Secret struct{ v string }

// NewSecret wraps s.
func NewSecret(s string) Secret { return Secret{v: s} }

// Reveal returns the plain value.
func (s Secret) Reveal() string { return s.v }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.v == "" }

const mask = "******"

func (s Secret) String() string {
	if s.v == "" {
		return ""
	}
	return mask
}

// GoString masks %#v.
func (s Secret) GoString() string { return s.String() }

// MarshalText masks the value in JSON, YAML and text encodings.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalYAML-compatible text decoding: a Secret may be set from YAML only where the config allows it
// (database.url, typically as ${COVSYNC_DATABASE_URL}).
func (s *Secret) UnmarshalText(b []byte) error { s.v = string(b); return nil }
