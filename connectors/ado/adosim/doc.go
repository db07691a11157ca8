// Package adosim is an Azure DevOps Services (and Server 2022) simulator: a net/http Handler that answers the
// REST calls covsync's ADO connector makes, the way the vendor documents them, so tests and `covsync demo` can
// drive the real azure-devops-go-api client against it.
//
// What it serves (each behaviour cites the reference it comes from, beside the code):
//   - PAT basic auth: 401 with WWW-Authenticate when X-TFS-FedAuthRedirect: Suppress is sent, otherwise a 203
//     HTML sign-in page (what an expired PAT gets from the real service).
//   - Location discovery: OPTIONS {org}/_apis (the ApiResourceLocation list the Go client parses) and
//     GET {org}/_apis/ResourceAreas, so the ExtensionManagement area can live on another base URL, like
//     extmgmt.dev.azure.com.
//   - Projects, work items (get, batch get with errorPolicy, JSON Patch update with rev and `test` → 412) and
//     WIQL (flat queries whose WHERE clause compares fields with = and IN).
//   - Extension data documents with __etag optimistic concurrency, the conflict error (409, or 400
//     InvalidDocumentVersionException as Server 2022 answers) and a document size limit.
//   - Rate limiting from a token bucket: 429 with Retry-After and the X-RateLimit-* headers, and optionally
//     Retry-After on the 200s it delays (Options.DelayRetryAfter).
//   - Fault injection: latency, 5xx, a concurrent writer between a read and a write, an expired PAT.
//
// Every request is recorded (Requests), so tests can count what a client sent.
package adosim
