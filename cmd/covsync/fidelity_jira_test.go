package main

import (
	"os"
	"strings"
	"testing"

	"github.com/covsync/covsync/connectors/jira/jirasim"
)

// editConfig rewrites the config at path, putting add after the first line equal to after (which must be
// there).
func editConfig(t *testing.T, path, after, add string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), after) {
		t.Fatalf("config %s has no line %q", path, after)
	}
	cfg := strings.Replace(string(b), after, after+add, 1)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestANonAdminAccountIsNamedByCheckAndStopsTheTargetOnce(t *testing.T) {
	w := newJiraWorld(t)
	w.sim.Deny(jirasim.PermAdministerProject)

	code, out, errOut := execute(t, "check", "--config", w.cfg)
	if code != exitUsage || !strings.Contains(out+errOut, "Administer Projects") || !strings.Contains(out+errOut, "notify_users: true") {
		t.Fatalf("check exit %d, want 2 naming Administer Projects and notify_users:\n%s\n%s", code, out, errOut)
	}

	w.sim.ResetRequests()
	res, code, errOut := w.resync(t, "--target", "jira")
	if code != exitUsage || len(res.Targets) != 1 {
		t.Fatalf("resync exit %d, want 2: %+v\n%s", code, res, errOut)
	}
	if _, pushed, _, failed := res.target(t, "jira:acme/SHOP"); pushed != 0 || failed != 0 {
		t.Errorf("pushed %d failed %d, want the target stopped with one error and no item failures", pushed, failed)
	}
	if n := w.sim.Count("PUT", "/rest/api/2/issue/"); n > 4 {
		t.Errorf("%d edits sent after the first refusal; the target should stop at the first", n)
	}
	if !strings.Contains(errOut, "Administer Projects") || !strings.Contains(errOut, "notify_users") {
		t.Errorf("the cycle error does not name the permission and the setting:\n%s", errOut)
	}
	if _, ok := w.sim.IssueFields("SHOP-1")[w.percent]; ok {
		t.Error("a refused edit was applied")
	}

	editConfig(t, w.cfg, "    requests_per_second: 200\n", "    notify_users: true\n")
	if code, out, errOut := execute(t, "check", "--config", w.cfg); code != exitOK {
		t.Fatalf("check with notify_users: true: exit %d\n%s\n%s", code, out, errOut)
	}
	res, code, errOut = w.resync(t, "--target", "jira")
	if _, pushed, _, failed := res.target(t, "jira:acme/SHOP"); code != exitOK || pushed != 5 || failed != 0 {
		t.Fatalf("with notify_users: true: exit %d pushed %d failed %d\n%s", code, pushed, failed, errOut)
	}
	if w.sim.Notifications("SHOP-1") != 1 {
		t.Errorf("notify_users: true edits do not notify: %d", w.sim.Notifications("SHOP-1"))
	}
}

func TestAnAccountWithoutEditIssuesIsNamedByCheckAndStopsTheTarget(t *testing.T) {
	w := newJiraWorld(t)
	w.sim.Deny(jirasim.PermEditIssues)
	code, out, errOut := execute(t, "check", "--config", w.cfg)
	if code == exitOK || !strings.Contains(out+errOut, "Edit Issues") {
		t.Fatalf("check exit %d, want a failure naming Edit Issues:\n%s\n%s", code, out, errOut)
	}
	res, code, errOut := w.resync(t, "--target", "jira")
	if _, pushed, _, failed := res.target(t, "jira:acme/SHOP"); code == exitOK || pushed != 0 || failed != 0 {
		t.Fatalf("resync exit %d pushed %d failed %d, want the target stopped with one error\n%s", code, pushed, failed, errOut)
	}
	if !strings.Contains(errOut, "lacks the Edit Issues permission") {
		t.Errorf("the cycle error does not name Edit Issues:\n%s", errOut)
	}
}

func TestTheSameFieldErrorOnEveryItemIsOneConfigurationError(t *testing.T) {
	w := newJiraWorld(t)
	for _, k := range []string{"SHOP-1", "SHOP-2", "SHOP-3", "SHOP-4", "SHOP-12"} {
		w.sim.HideField(k, w.status)
	}
	res, code, errOut := w.resync(t, "--target", "jira")
	if code != exitUsage {
		t.Fatalf("resync exit %d, want 2 (configuration): %+v\n%s", code, res, errOut)
	}
	_, pushed, _, failed := res.target(t, "jira:acme/SHOP")
	if pushed != 0 || failed >= 5 {
		t.Errorf("pushed %d failed %d: want the target stopped before every item is failed one by one", pushed, failed)
	}
	if !strings.Contains(errOut, "fields.test_status") || !strings.Contains(errOut, "cannot be set") {
		t.Errorf("the cycle error does not name fields.test_status and Jira's message:\n%s", errOut)
	}
}
