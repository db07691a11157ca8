package config

import (
	"strings"
	"testing"
)

// TestConfigErrorsNeverPrintASecretInAnySpelling: a config error may quote a value expanded from the
// environment; the tokens and the database password must not appear in it raw, Go-quoted (a token holding
// `"` or `\`), or percent-encoded as the URL wrote it (%2A where Go would write *).
func TestConfigErrorsNeverPrintASecretInAnySpelling(t *testing.T) {
	const token = `jira"tok\en-9Zq`
	_, err := loadCase(t, minimal+`jira:
  - name: acme
    url: https://acme.atlassian.net
    auth: {type: basic, email: "${JIRA_TOKEN}", token_env: JIRA_TOKEN}
    fields: {coverage_percent: Test Coverage}
`, map[string]string{"JIRA_TOKEN": token}, nil)
	if err == nil {
		t.Fatal("an email that is the token was accepted")
	}
	for _, form := range []string{token, `jira\"tok\\en-9Zq`, `tok\en`, `tok\\en`} {
		if strings.Contains(err.Error(), form) {
			t.Errorf("config error prints the token as %q:\n%v", form, err)
		}
	}

	const written = `p%40ss%2Aw%6Frd-42`
	_, err = loadCase(t, minimal, map[string]string{"DB": "postgres://covsync:" + written + "@127.0.0.1:notaport/covsync"}, nil)
	if err == nil {
		t.Fatal("a database URL with a bad port was accepted")
	}
	for _, form := range []string{written, "p@ss*word-42", "p%40ss*word-42", "ss%2Aw"} {
		if strings.Contains(err.Error(), form) {
			t.Errorf("config error prints the database password as %q:\n%v", form, err)
		}
	}
}

// TestATokenPastedIntoTokenEnvIsNeverEchoed: token_env names a variable; a token pasted there (a valid name
// or not) is refused without being printed.
func TestATokenPastedIntoTokenEnvIsNeverEchoed(t *testing.T) {
	for _, pasted := range []string{"ATATT3xFfGF0t0k3nV4lu3-x_y=", "ATATT3xFfGF0t0k3nV4lu3xy", "k7xq2mzv5n4b3c6d7e2f3g4h5j6k7m2n3p4q5r6s7t2u3v4w5x6y"} {
		_, err := loadCase(t, minimal+`jira:
  - name: acme
    url: https://acme.atlassian.net
    auth: {type: basic, email: bot@acme.example, token_env: `+pasted+`}
    fields: {coverage_percent: Test Coverage}
`, nil, nil)
		if err == nil {
			t.Fatalf("token_env %q was accepted", pasted)
		}
		if !strings.Contains(err.Error(), "token_env") {
			t.Errorf("the error does not name token_env: %v", err)
		}
		if strings.Contains(err.Error(), pasted) {
			t.Errorf("config error echoes the token pasted into token_env:\n%v", err)
		}
	}
}

// TestDatabaseURLMayNotWriteAnySecret: a password is refused wherever the URL writes it (user info, a
// password= parameter with or without a user, key=value form), and so is libpq's sslpassword.
func TestDatabaseURLMayNotWriteAnySecret(t *testing.T) {
	for _, url := range []string{
		"postgres://h/db?password=x",
		"postgres://u@h/db?sslmode=require&password=x",
		"postgres://u@h/db?sslpassword=keypass",
		"host=h dbname=db sslpassword=keypass",
		"host=h dbname=db password=x",
	} {
		_, err := loadCase(t, "database:\n  url: \""+url+"\"\n", nil, nil)
		if err == nil || !strings.Contains(err.Error(), "database.url: holds a literal password") {
			t.Errorf("database.url %q: err = %v, want the literal-password refusal", url, err)
		}
	}
	// Taken from the environment it is fine, and the sslpassword is a secret the logger masks.
	c, err := loadCase(t, minimal, map[string]string{"DB": "postgres://u@127.0.0.1/db?sslpassword=keypass-77"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range c.Secrets() {
		found = found || s == "keypass-77"
	}
	if !found {
		t.Errorf("sslpassword is not among the secrets: %q", c.Secrets())
	}
}
