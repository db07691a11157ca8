package bench

import (
	"testing"

	"github.com/covsync/covsync/internal/pgtest"
)

// TestMain stops the throwaway PostgreSQL that tests of this package start through pgtest.
func TestMain(m *testing.M) { pgtest.Main(m) }
