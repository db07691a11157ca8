// Package jira is covsync's Jira target (docs/architecture.md, Contracts): per story, custom fields holding
// coverage and test status; per project, the jira-test-manager.linked-test-runs project property linking each
// release (Jira version) to its runs.
//
// It talks to Jira through go-jira v1.17.0 over the httpx client (retries, Retry-After, the per-site token
// bucket, TLS, redaction). go-jira lacks several calls covsync needs (versions listing, project properties,
// notifyUsers on an edit), so those requests are built with its NewRequestWithContext and sent with Do.
//
// Two targets per project mapping, both implementing the engine's Target interface:
//
//   - kind "jira" (IssueTarget): one item per story whose key belongs to the Jira project, key = issue key,
//     payload = the field values typed by each field's schema. Field names are resolved to ids once per cycle
//     (in Plan). A PUT /rest/api/2/issue/{key}?notifyUsers=false per changed story.
//   - kind "linked-runs" (PropertyTarget): one item per project, the property. Push reads the property,
//     merges covsync's runs into it (foreign keys, releases and runs are kept as found), prunes covsync's
//     oldest runs to stay within Jira's 32,768-byte cap, and writes only when the value changed. Jira has no
//     etag on properties, so read-merge-write is serialised per (site, project) within the process and the
//     property is read a second time just before the write to catch a concurrent writer.
//
// Item hashes are pure functions of the report: the property's updatedAt is the start of the newest run it
// links (the time of its data), never the sync time, so an unchanged cycle writes nothing.
package jira
