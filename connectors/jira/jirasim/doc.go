// Package jirasim is a Jira Cloud REST v2 simulator: an http.Handler that covsync's tests and `covsync demo`
// run the real go-jira client against.
//
// It answers the endpoints covsync uses, with the shapes, status codes and limits of the Jira Cloud platform
// REST API v2 reference (https://developer.atlassian.com/cloud/jira/platform/rest/v2/); each handler cites
// the operation it follows. Beyond the happy path it reproduces what covsync must survive: 401 for bad
// credentials, 403 for missing permissions, 400 with Jira's {"errorMessages":[],"errors":{…}} body for
// fields that are unknown, off the edit screen, of the wrong type or too long, 404 for unknown issues and
// projects, the 32,768-byte cap on entity property values, and Jira Cloud's rate-limit answers from a token
// bucket: 429 with RateLimit-Reason (jira-burst-based, or jira-per-issue-on-write from an optional per-issue
// write limit), Retry-After unless Options.OmitRetryAfter, and X-RateLimit-NearLimit below a fifth of the
// bucket.
// Faults can be injected: latency, bursts of 5xx, dropped connections and a concurrent writer that changes a
// project property between a client's GET and its PUT.
//
// Every request is recorded (method, path, query, body) so tests assert exactly what was sent.
package jirasim
