package push_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/covsync/covsync/sync/push"
)

func TestWithKindOfKeepsTheKindAndTheChain(t *testing.T) {
	base := errors.New("401")
	for _, k := range []push.Kind{push.KindPermanent, push.KindRetryable, push.KindFatal, push.KindConfig} {
		err := map[push.Kind]func(error) error{push.KindPermanent: push.Permanent, push.KindRetryable: push.Retryable, push.KindFatal: push.Fatal, push.KindConfig: push.Config}[k](base)
		got := push.WithKindOf(err, fmt.Errorf("page %q: %w", "P", err))
		if push.KindOf(got) != k || !errors.Is(got, base) || got.Error() != `page "P": 401` {
			t.Errorf("%v: got %v of kind %v", k, got, push.KindOf(got))
		}
	}
	if push.KindOf(push.WithKindOf(base, fmt.Errorf("x: %w", base))) != push.KindRetryable {
		t.Error("an unclassified error did not stay retryable")
	}
}

func TestAConfigErrorIsFatalForTheTargetAndNamedConfig(t *testing.T) {
	err := fmt.Errorf("jira:acme/SHOP: plan: %w", push.Configf("no field named %q", "Coverage"))
	if push.KindOf(err) != push.KindConfig || !push.IsFatal(err) || push.KindConfig.String() != "config" {
		t.Errorf("kind %v, fatal %v", push.KindOf(err), push.IsFatal(err))
	}
	for _, err := range []error{push.Permanentf("x"), push.Retryable(errors.New("x")), errors.New("x")} {
		if push.IsFatal(err) {
			t.Errorf("%v (%v) is fatal", err, push.KindOf(err))
		}
	}
	if !push.IsFatal(push.Fatalf("401")) {
		t.Error("a fatal error is not fatal")
	}
}
