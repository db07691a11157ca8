package push_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/covsync/covsync/sync/push"
)

func TestWithKindOfKeepsTheKindAndTheChain(t *testing.T) {
	base := errors.New("401")
	for _, k := range []push.Kind{push.KindPermanent, push.KindRetryable, push.KindFatal} {
		err := map[push.Kind]func(error) error{push.KindPermanent: push.Permanent, push.KindRetryable: push.Retryable, push.KindFatal: push.Fatal}[k](base)
		got := push.WithKindOf(err, fmt.Errorf("page %q: %w", "P", err))
		if push.KindOf(got) != k || !errors.Is(got, base) || got.Error() != `page "P": 401` {
			t.Errorf("%v: got %v of kind %v", k, got, push.KindOf(got))
		}
	}
	if push.KindOf(push.WithKindOf(base, fmt.Errorf("x: %w", base))) != push.KindRetryable {
		t.Error("an unclassified error did not stay retryable")
	}
}
