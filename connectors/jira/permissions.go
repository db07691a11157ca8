package jira

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/covsync/covsync/sync/push"
)

// Jira project permissions covsync's issue edits need
// (https://developer.atlassian.com/cloud/jira/platform/rest/v2/api-group-issues/#api-rest-api-2-issue-issueidorkey-put).
const (
	permEditIssues        = "EDIT_ISSUES"
	permAdministerProject = "ADMINISTER_PROJECTS"
)

// notifyRefusal starts the message of Jira Cloud's 403 to notifyUsers=false from an account without
// Administer Projects (jirasim.NotifyRefusal gives the whole message and its source).
const notifyRefusal = "To discard the user notification"

// myPermissions asks Jira which of perms the account holds in a project: GET /rest/api/2/mypermissions
// (https://developer.atlassian.com/cloud/jira/platform/rest/v2/api-group-permissions/#api-rest-api-2-mypermissions-get).
func (s *Site) myPermissions(ctx context.Context, projectKey string, perms ...string) (map[string]bool, error) {
	var got struct {
		Permissions map[string]struct {
			HavePermission bool `json:"havePermission"`
		} `json:"permissions"`
	}
	q := url.Values{"projectKey": {projectKey}, "permissions": {strings.Join(perms, ",")}}
	if _, err := s.call(ctx, "GET", "rest/api/2/mypermissions?"+q.Encode(), nil, &got, "GET mypermissions of "+projectKey, "Browse Projects"); err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, p := range perms {
		out[p] = got.Permissions[p].HavePermission
	}
	return out, nil
}

// checkPermissions is `covsync check`'s probe of one project: Edit Issues always, Administer Projects unless
// notify_users is true (Jira Cloud refuses notifyUsers=false without it). The error names the permission and
// what to change.
func (s *Site) checkPermissions(ctx context.Context, projectKey string) error {
	have, err := s.myPermissions(ctx, projectKey, permEditIssues, permAdministerProject)
	if err != nil {
		return err
	}
	if !have[permEditIssues] {
		return push.Fatal(s.noEditIssues(projectKey))
	}
	if !have[permAdministerProject] && !s.cfg.NotifyUsers {
		return push.Config(s.noNotifyDiscard(projectKey, ""))
	}
	return nil
}

func (s *Site) noEditIssues(projectKey string) error {
	return fmt.Errorf("jira %s: project %s: %s lacks the Edit Issues permission (Jira answers 400 \"cannot be set\" for every field): grant it Edit Issues in the project's permission scheme",
		s.cfg.Name, projectKey, s.user())
}

// noNotifyDiscard explains the refusal of notifyUsers=false; answer is Jira's own message when there is one.
func (s *Site) noNotifyDiscard(projectKey, answer string) error {
	if answer != "" {
		answer = " (Jira: " + answer + ")"
	}
	return fmt.Errorf("jira %s: project %s: %s lacks the Administer Projects permission, which Jira requires to edit issues without notifying their watchers (notifyUsers=false)%s: grant it Administer Projects, or set notify_users: true on jira %s to let Jira notify watchers of each edit",
		s.cfg.Name, projectKey, s.user(), answer, s.cfg.Name)
}
