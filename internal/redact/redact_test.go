package redact

import (
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	r := New("tok-ABC123", `pa"ss&<w>rd`, "")
	tests := []struct {
		name, in, want string
	}{
		{"a configured secret is masked wherever it appears", "token tok-ABC123 rejected", "token ****** rejected"},
		{"a secret is masked in its JSON-escaped spelling", `{"msg":"pa\"ss\u0026\u003cw\u003erd"}`, `{"msg":"******"}`},
		{"a secret is masked in its URL-escaped spelling", "q=pa%22ss%26%3Cw%3Erd", "q=******"},
		{"a basic Authorization header keeps its scheme", "Authorization: Basic dXNlcjpwYXNz", "Authorization: Basic ******"},
		{"a bearer Authorization header keeps its scheme", "authorization=\"Bearer eyJhbGciOi.x.y\"", "authorization=\"Bearer ******\""},
		{"a header map printed by Go is masked", "map[Authorization:[Bearer abcdef] Accept:[json]]", "map[Authorization:[Bearer ******] Accept:[json]]"},
		{"an Authorization header in JSON is masked", `{"Authorization":["Basic Zm9vOmJhcg=="]}`, `{"Authorization":["Basic ******"]}`},
		{"an Authorization value without a scheme is masked", "Authorization: abcdef", "Authorization: ******"},
		{"an X-API-KEY header is masked", "X-API-KEY: k3y-value", "X-API-KEY: ******"},
		{"a bare long bearer token is masked", "sent Bearer abcdefghijklmnopqrstuvwxyz012345", "sent Bearer ******"},
		{"a DSN URL password is masked", "dial postgres://covsync:pw0rd@db:5432/x failed", "dial postgres://covsync:******@db:5432/x failed"},
		{"a proxy URL password is masked", "proxy http://u:p@proxy:3128", "proxy http://u:******@proxy:3128"},
		{"a key=value DSN password is masked", "host=db user=u password=pw0rd dbname=x", "host=db user=u password=****** dbname=x"},
		{"a quoted key=value DSN password is masked", "host=db password='a b\\'c' dbname=x", "host=db password=****** dbname=x"},
		{"a query-string password is masked", "?user=u&password=pw0rd&sslmode=disable", "?user=u&password=******&sslmode=disable"},
		{"a JSON password field is masked", `{"password": "pw0rd", "user": "u"}`, `{"password": "******", "user": "u"}`},
		{"a logfmt token field is masked", `level=info access_token="abc def" n=1`, `level=info access_token=****** n=1`},
		{"a token_env naming a variable is not a secret", "token_env: JIRA_TOKEN", "token_env: JIRA_TOKEN"},
		{"text without credentials is unchanged", "pushed 3 items to jira:acme/SHOP in 2s", "pushed 3 items to jira:acme/SHOP in 2s"},
		{"a URL without a password is unchanged", "GET https://acme.atlassian.net:443/rest/api/2/myself", "GET https://acme.atlassian.net:443/rest/api/2/myself"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.Redact(tt.in); got != tt.want {
				t.Errorf("Redact(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestAddedSecretsAreMaskedAndOldOnesStay(t *testing.T) {
	r := New("old-token-1")
	r.Add("new-token-2")
	got := r.Redact("old-token-1 new-token-2")
	if strings.Contains(got, "token-") {
		t.Fatalf("got %q", got)
	}
}

func TestLongerSecretIsMaskedWhole(t *testing.T) {
	r := New("abc", "abcdef")
	if got := r.Redact("xabcdefx"); got != "x"+Mask+"x" {
		t.Fatalf("got %q", got)
	}
}

func TestNilRedactorMasksByShape(t *testing.T) {
	var r *Redactor
	if got := r.Redact("password=x1"); got != "password="+Mask {
		t.Fatalf("got %q", got)
	}
}

func BenchmarkRedact(b *testing.B) {
	r := New("tok-ABC123", "db-password-xyz", "ado-pat-abcdefghijklmnop")
	line := `{"level":"info","msg":"pushed item SHOP-7 to jira:acme/SHOP","target":"jira:acme/SHOP","took":"120ms","time":"2026-11-23T17:00:00Z"}` + "\n"
	b.ReportAllocs()
	for b.Loop() {
		r.Redact(line)
	}
}

func BenchmarkRedactCredentialLine(b *testing.B) {
	r := New("tok-ABC123", "db-password-xyz", "ado-pat-abcdefghijklmnop")
	line := `{"level":"debug","msg":"GET https://acme.atlassian.net/rest/api/2/myself","headers":"Authorization: Basic Ym90QGFjbWU6dG9r","dsn":"postgres://u:pw@db/x"}` + "\n"
	b.ReportAllocs()
	for b.Loop() {
		r.Redact(line)
	}
}

// FuzzRedact: whatever the text, a configured secret (letters and digits, as tokens are) never survives
// redaction, and redacting twice changes nothing more.
func FuzzRedact(f *testing.F) {
	f.Add("Authorization: Basic dXNlcjpwdw== password=abc postgres://u:abcd1234@h/x", "abcd1234")
	f.Add(`{"token":"abcd1234","msg":"x-api-key: abcd1234"}`, "abcd1234")
	f.Add("abababab", "abab")
	f.Fuzz(func(t *testing.T, text, secret string) {
		if len(secret) < 4 || strings.IndexFunc(secret, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
		}) >= 0 {
			return
		}
		r := New(secret)
		once := r.Redact(text)
		if strings.Contains(once, secret) {
			t.Fatalf("secret %q survives in %q", secret, once)
		}
		if twice := r.Redact(once); twice != once {
			t.Fatalf("not idempotent:\n%q\n%q", once, twice)
		}
	})
}
