// Package ado is covsync's Azure DevOps target (kind "ado"): for every story that maps to a work item it keeps
// one document in an installed extension's data collection (docs/architecture.md, Contracts: the document the
// extension's UI reads) and, optionally, work-item fields.
//
// It uses github.com/microsoft/azure-devops-go-api/azuredevops/v7 for the connection (PAT auth, resource-area
// discovery) and the work-item client, always over the *http.Client it is given (never the Go client's bare
// one), and plain REST for extension data, which the Go client has no call for. The quirks it works around
// that matter here:
//   - the Go client never retries, so every call goes through an httpx client (given, or built when none
//     is), which retries 429s, 5xxs and transport errors; writes and the WIQL query are marked safe to
//     replay. This package paces every request of a target after Retry-After or X-RateLimit-Remaining: 0 /
//     X-RateLimit-Delay answers;
//   - a 203 or an HTML answer is a sign-in page (an expired PAT): it is an auth error, never data;
//   - errors come back as azuredevops.WrappedError by value or by pointer: both are checked.
//
// Concurrency: a document is read, merged (keys covsync does not own are kept), and written with the __etag
// read; a conflict re-reads and retries, bounded. Work-item fields are patched with a `test /rev` operation
// and a 412 re-reads and retries. bypassRules is never set.
package ado
