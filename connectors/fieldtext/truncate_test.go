package fieldtext

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTruncateUTF16(t *testing.T) {
	tests := []struct {
		name string
		in   string
		n    int
		want string
	}{
		{"a short string is kept", "short", 255, "short"},
		{"255 ASCII characters fit 255 units", strings.Repeat("a", 255), 255, strings.Repeat("a", 255)},
		{"256 ASCII characters are cut to 254 and an ellipsis", strings.Repeat("a", 256), 255, strings.Repeat("a", 254) + "…"},
		{"BMP characters count one unit each", "日本語テキスト", 4, "日本語…"},
		{"an emoji counts two units", strings.Repeat("🚀", 128), 255, strings.Repeat("🚀", 127) + "…"},
		{"127 emoji and one letter fit 255 units exactly", strings.Repeat("🚀", 127) + "a", 255, strings.Repeat("🚀", 127) + "a"},
		{"an emoji that would straddle the limit is dropped whole", "ab🚀cd", 4, "ab…"},
		{"invalid UTF-8 becomes U+FFFD", "bad\xffbyte", 20, "bad\uFFFDbyte"},
		{"a zero limit is empty", "abc", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := TruncateUTF16(tt.in, tt.n)
			if got != tt.want {
				t.Errorf("TruncateUTF16(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
			}
			if !utf8.ValidString(got) || UTF16Len(got) > max(tt.n, 0) {
				t.Errorf("TruncateUTF16(%q, %d) = %q: %d UTF-16 units or invalid UTF-8", tt.in, tt.n, got, UTF16Len(got))
			}
		})
	}
}

// FuzzTruncateUTF16: whatever the input, the result is valid UTF-8, within the limit, and a prefix of the
// input (made valid) unless it was cut, in which case it ends with "…".
func FuzzTruncateUTF16(f *testing.F) {
	f.Add("build 482", 255)
	f.Add(strings.Repeat("🚀", 200), 255)
	f.Add("a🚀b\xff𝄞", 3)
	f.Fuzz(func(t *testing.T, s string, n int) {
		n = n % 1000
		got := TruncateUTF16(s, n)
		valid := strings.ToValidUTF8(s, "\uFFFD")
		if !utf8.ValidString(got) || UTF16Len(got) > max(n, 0) {
			t.Fatalf("TruncateUTF16(%q, %d) = %q (%d units)", s, n, got, UTF16Len(got))
		}
		if got != valid && n > 0 && (!strings.HasSuffix(got, "…") || !strings.HasPrefix(valid, strings.TrimSuffix(got, "…"))) {
			t.Fatalf("TruncateUTF16(%q, %d) = %q: not a prefix of the input ending in an ellipsis", s, n, got)
		}
	})
}
