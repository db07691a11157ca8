package apikey

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/covsync/covsync/connectors/postgres"
	"github.com/covsync/covsync/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func newStore(t *testing.T) *Store {
	t.Helper()
	pool := pgtest.Pool(t)
	c, err := pool.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	if _, err := postgres.Migrate(context.Background(), c.Conn(), postgres.MigrateOptions{SkipSource: true}); err != nil {
		t.Fatal(err)
	}
	return NewStore(pool)
}

func TestKeysAreRandomScopedAndRevocable(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	k1, in1, err := s.Create(ctx, "shop", "ci")
	if err != nil {
		t.Fatal(err)
	}
	k2, _, err := s.Create(ctx, "shop", "ci")
	if err != nil {
		t.Fatal(err)
	}
	if k1 == k2 || !strings.HasPrefix(k1, Prefix) || len(k1) != len(Prefix)+52 || in1.Prefix != k1[:PrefixLen] {
		t.Fatalf("keys %q %q, prefix %q", k1, k2, in1.Prefix)
	}
	got, err := s.Authenticate(ctx, k1)
	if err != nil || got.Project != "shop" || got.ID != in1.ID {
		t.Fatalf("Authenticate: %+v %v", got, err)
	}
	for _, bad := range []string{"", "csk_", k1[:PrefixLen], k1[:len(k1)-1] + "x", k1 + "x", strings.ToUpper(k1), "Bearer " + k1} {
		if _, err := s.Authenticate(ctx, bad); !errors.Is(err, ErrUnknown) {
			t.Errorf("Authenticate(%q): %v, want ErrUnknown", bad, err)
		}
	}
	list, err := s.List(ctx, "shop")
	if err != nil || len(list) != 2 || list[0].LastUsed == nil || list[1].LastUsed != nil {
		t.Fatalf("List: %+v %v (want the used key with last used, the other without)", list, err)
	}
	if _, err := s.Revoke(ctx, in1.Prefix); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, k1); !errors.Is(err, ErrRevoked) {
		t.Errorf("a revoked key: %v, want ErrRevoked", err)
	}
	if _, err := s.Authenticate(ctx, k2); err != nil {
		t.Errorf("the other key after revoking the first: %v", err)
	}
	if _, err := s.Revoke(ctx, "csk_aaaaaaaa"); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoke of an unknown prefix: %v", err)
	}
	if _, _, err := s.Create(ctx, "no such project!", ""); err == nil {
		t.Errorf("a key for an invalid project id was created")
	}
}
