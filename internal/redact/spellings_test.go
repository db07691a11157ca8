package redact

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// TestEverySpellingOfASecretIsMasked: a secret is masked however the text spells it: raw, URL-escaped,
// JSON-escaped (quote and backslash included), and inside the base64 of any text holding it, at each of the
// three alignments base64 has (the basic credential "email:token" with emails of three lengths, ":pat").
func TestEverySpellingOfASecretIsMasked(t *testing.T) {
	const token = `tok-Zq9"odd\value+/=secret`
	r := New(token)
	check := func(what, text, secretForm string) {
		t.Helper()
		out := r.Redact("server said: " + text + " (end)")
		if strings.Contains(out, secretForm) {
			t.Errorf("%s: %q survived redaction: %s", what, secretForm, out)
		}
		if !strings.Contains(out, Mask) {
			t.Errorf("%s: nothing masked in %s", what, out)
		}
	}
	check("raw", token, token)
	check("query-escaped", url.QueryEscape(token), url.QueryEscape(token))
	check("path-escaped", url.PathEscape(token), url.PathEscape(token))
	js, _ := json.Marshal(map[string]string{"echo": token})
	check("JSON-escaped", string(js), string(js[9:len(js)-2]))
	for _, user := range []string{"a@x.io", "ab@x.io", "abc@x.io", ""} {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding} {
			b := enc.EncodeToString([]byte(user + ":" + token))
			out := r.Redact("Authorization echoed: Basic " + b)
			// What survives may hold at most the two base64 groups at the secret's edges (≤ 4 bytes of it).
			if strings.Contains(out, b) {
				t.Fatalf("basic credential of %q survived: %s", user, out)
			}
			if dec := decodable(out, enc); strings.Contains(dec, token[2:len(token)-2]) {
				t.Errorf("basic credential of %q still decodes to the token: %s", user, out)
			}
			// Unprefixed too: a server echoing the header value in a JSON error.
			if out := r.Redact(`{"header":"` + b + `"}`); !strings.Contains(out, Mask) {
				t.Errorf("bare base64 of %q not masked: %s", user, out)
			}
		}
	}
}

// decodable decodes the longest base64 run of s (what an attacker reading the text could recover).
func decodable(s string, enc *base64.Encoding) string {
	best := ""
	for _, f := range strings.FieldsFunc(s, func(r rune) bool {
		return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("+/-_=", r))
	}) {
		for cut := 0; cut < 4 && cut < len(f); cut++ {
			if b, err := enc.DecodeString(strings.TrimRight(f[cut:], "=")[:len(strings.TrimRight(f[cut:], "="))/4*4]); err == nil && len(b) > len(best) {
				best = string(b)
			}
		}
	}
	return best
}
