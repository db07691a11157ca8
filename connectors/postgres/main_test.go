package postgres

import (
	"testing"

	"github.com/covsync/covsync/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }
