package ado

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/microsoft/azure-devops-go-api/azuredevops/v7"

	"github.com/covsync/covsync/sync/push"
)

// apiError is a non-2xx answer to one of this package's plain REST calls, decoded from the service's error
// body ({"message": …, "typeKey": …}).
type apiError struct {
	Status  int
	TypeKey string
	Message string
}

func (e *apiError) Error() string {
	if e.TypeKey != "" {
		return fmt.Sprintf("HTTP %d %s: %s", e.Status, e.TypeKey, e.Message)
	}
	return fmt.Sprintf("HTTP %d: %s", e.Status, e.Message)
}

// statusOf returns the HTTP status and typeKey behind err: an *apiError, or the Go client's WrappedError,
// which comes by value for JSON bodies and by pointer for empty ones. 0 when err carries no
// HTTP status (a transport error).
func statusOf(err error) (int, string) {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Status, ae.TypeKey
	}
	var we azuredevops.WrappedError
	if errors.As(err, &we) && we.StatusCode != nil {
		return *we.StatusCode, deref(we.TypeKey)
	}
	var pwe *azuredevops.WrappedError
	if errors.As(err, &pwe) && pwe != nil && pwe.StatusCode != nil {
		return *pwe.StatusCode, deref(pwe.TypeKey)
	}
	return 0, ""
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// scopesHelp names what the PAT needs, for the message of an auth failure.
const scopesHelp = "covsync needs a PAT with the scopes Work Items (Read & write) [vso.work_write], " +
	"Extension data (Read & write) [vso.extension.data_write] and Project and team (Read) [vso.project]"

// isAuth reports whether err means the credentials are refused: a sign-in page, 401 or 403.
func isAuth(err error) bool {
	var si *SignInError
	if errors.As(err, &si) {
		return true
	}
	s, _ := statusOf(err)
	return s == http.StatusUnauthorized || s == http.StatusForbidden
}

// authError explains an auth failure without ever quoting the token.
func (t *Target) authError(err error) error {
	var si *SignInError
	s, key := statusOf(err)
	switch {
	case s == http.StatusUnauthorized && key == "ExtensionInvalidAuthorization":
		e := t.o.Extension
		return fmt.Errorf("%s: the account may not use the data of extension %s.%s (HTTP 401 ExtensionInvalidAuthorization); the personal access token itself was accepted: give the account access to the extension (Organization settings → Extensions) and make sure the PAT has Extension data (Read & write) [vso.extension.data_write]",
			t.Name(), e.Publisher, e.ID)
	case errors.As(err, &si):
		return fmt.Errorf("%s: the service answered a sign-in page (HTTP %d) instead of data: the personal access token is expired, revoked or wrong; %s", t.Name(), si.Status, scopesHelp)
	case s == http.StatusForbidden:
		return fmt.Errorf("%s: access denied (HTTP 403): the personal access token lacks a permission; %s", t.Name(), scopesHelp)
	default:
		return fmt.Errorf("%s: authentication failed (HTTP %d): the personal access token is expired, revoked or wrong; %s", t.Name(), s, scopesHelp)
	}
}

// transient reports whether err is worth retrying now: 429, a 5xx, or a transport failure.
func transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || isAuth(err) {
		return false
	}
	s, _ := statusOf(err)
	return s == 0 || s == http.StatusTooManyRequests || s >= 500
}

// classify turns a failed call into the engine's error kinds: auth → Fatal, 429/5xx/transport → Retryable
// (the client's own retries are spent), anything else → Permanent (this item only).
func (t *Target) classify(err error) error {
	switch {
	case err == nil:
		return nil
	case isAuth(err):
		return push.Fatal(t.authError(err))
	case transient(err), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return push.Retryable(err)
	default:
		return push.Permanent(err)
	}
}

// paced runs fn once the pacer's pause is over. The wait happens here, outside the HTTP client, so a pause
// the service asked for is not counted against the client's Timeout. Retries of 429, 5xx and transport
// errors are the HTTP client's (httpx, which also honours Retry-After); this package only re-reads and
// re-writes on a conflict, which is semantic (see pushDocument and pushFields).
func (t *Target) paced(ctx context.Context, fn func() error) error {
	if err := t.pacer.wait(ctx); err != nil {
		return err
	}
	return fn()
}
