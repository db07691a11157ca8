package apikey

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/connectors/postgres"
)

// Prefix starts every key; PrefixLen characters of a key are its display prefix (Prefix and 8 more).
const (
	Prefix    = "csk_"
	PrefixLen = 12
	// randomBytes of crypto/rand make a key: 256 bits, 52 base32 characters.
	randomBytes = 32
)

// encoding is lower-case base32 without padding: letters and digits only, so a key survives shells, YAML
// and HTTP headers unquoted.
var encoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Errors of Authenticate. Callers answer both with the same 401, so a caller learns nothing about which.
var (
	ErrUnknown = errors.New("unknown API key")
	ErrRevoked = errors.New("revoked API key")
)

// ErrNotFound is a prefix no key has (Revoke).
var ErrNotFound = errors.New("no key has this prefix")

// Info is what is stored of a key.
type Info struct {
	ID        int64
	Prefix    string
	Project   string
	Name      string
	CreatedAt time.Time
	LastUsed  *time.Time
	RevokedAt *time.Time
}

// Store keeps the keys in covsync's schema.
type Store struct{ pool *pgxpool.Pool }

// NewStore uses pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

func table() string { return pgx.Identifier{config.OwnSchema, "api_keys"}.Sanitize() }

// generate returns a new key from crypto/rand.
func generate() (string, error) {
	b := make([]byte, randomBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("api key: crypto/rand: %w", err)
	}
	return Prefix + encoding.EncodeToString(b), nil
}

// DisplayPrefix is the part of key that may be shown and stored beside its hash; "" when key is too short
// to be one of covsync's.
func DisplayPrefix(key string) string {
	if len(key) < PrefixLen || !strings.HasPrefix(key, Prefix) {
		return ""
	}
	return key[:PrefixLen]
}

// Create makes a key for project and returns it: the one time the key exists outside its holder.
func (s *Store) Create(ctx context.Context, project, name string) (string, Info, error) {
	if err := postgres.CheckProjectID(project); err != nil {
		return "", Info{}, err
	}
	for attempt := 0; ; attempt++ {
		key, err := generate()
		if err != nil {
			return "", Info{}, err
		}
		sum := sha256.Sum256([]byte(key))
		in := Info{Prefix: DisplayPrefix(key), Project: project, Name: name}
		err = s.pool.QueryRow(ctx, `INSERT INTO `+table()+` (prefix, hash, project_id, name) VALUES ($1, $2, $3, $4)
			RETURNING id, created_at`, in.Prefix, sum[:], project, name).Scan(&in.ID, &in.CreatedAt)
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23505" && attempt < 3 {
			continue // another key has this prefix (one chance in 2^40): draw again
		}
		if err != nil {
			return "", Info{}, fmt.Errorf("api key: store: %w", err)
		}
		return key, in, nil
	}
}

// List returns the keys of project, or of every project when project is "", oldest first.
func (s *Store) List(ctx context.Context, project string) ([]Info, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, prefix, project_id, name, created_at, last_used_at, revoked_at
		FROM `+table()+` WHERE $1 = '' OR project_id = $1 ORDER BY created_at, id`, project)
	if err != nil {
		return nil, fmt.Errorf("api keys: list: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Info, error) {
		var in Info
		err := r.Scan(&in.ID, &in.Prefix, &in.Project, &in.Name, &in.CreatedAt, &in.LastUsed, &in.RevokedAt)
		return in, err
	})
}

// Revoke revokes the key with this display prefix. Revoking a revoked key changes nothing.
func (s *Store) Revoke(ctx context.Context, prefix string) (Info, error) {
	var in Info
	err := s.pool.QueryRow(ctx, `UPDATE `+table()+` SET revoked_at = coalesce(revoked_at, now()) WHERE prefix = $1
		RETURNING id, prefix, project_id, name, created_at, last_used_at, revoked_at`, prefix).
		Scan(&in.ID, &in.Prefix, &in.Project, &in.Name, &in.CreatedAt, &in.LastUsed, &in.RevokedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Info{}, fmt.Errorf("api key %s: %w", prefix, ErrNotFound)
	}
	if err != nil {
		return Info{}, fmt.Errorf("api key %s: revoke: %w", prefix, err)
	}
	return in, nil
}

// lastUsedEvery bounds the writes last_used_at costs: at most one per key per minute.
const lastUsedEvery = time.Minute

// Authenticate returns the key's row when key is a key covsync issued and has not revoked. The row is read
// on every call, so a revocation on any replica holds from the next request on. The stored hash is compared
// in constant time; the lookup is by the display prefix, which is not secret.
func (s *Store) Authenticate(ctx context.Context, key string) (Info, error) {
	prefix := DisplayPrefix(key)
	if prefix == "" {
		return Info{}, ErrUnknown
	}
	var in Info
	var hash []byte
	err := s.pool.QueryRow(ctx, `SELECT id, prefix, project_id, name, created_at, last_used_at, revoked_at, hash
		FROM `+table()+` WHERE prefix = $1`, prefix).
		Scan(&in.ID, &in.Prefix, &in.Project, &in.Name, &in.CreatedAt, &in.LastUsed, &in.RevokedAt, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return Info{}, ErrUnknown
	}
	if err != nil {
		return Info{}, fmt.Errorf("api key %s: %w", prefix, err)
	}
	sum := sha256.Sum256([]byte(key))
	if subtle.ConstantTimeCompare(sum[:], hash) != 1 {
		return Info{}, ErrUnknown
	}
	if in.RevokedAt != nil {
		return Info{}, ErrRevoked
	}
	if in.LastUsed == nil || time.Since(*in.LastUsed) > lastUsedEvery {
		if _, err := s.pool.Exec(ctx, `UPDATE `+table()+` SET last_used_at = now() WHERE id = $1`, in.ID); err != nil {
			return Info{}, fmt.Errorf("api key %s: record its use: %w", prefix, err)
		}
	}
	return in, nil
}
