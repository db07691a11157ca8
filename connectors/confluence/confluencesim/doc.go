// Package confluencesim is a Confluence REST v1 content API in a net/http Handler, faithful enough that
// covsync's Confluence target is tested against it on the wire: the Cloud base path /wiki/rest/api and the Data
// Center path /rest/api, basic (email + API token) and bearer auth, spaces, pages with ancestors and version
// numbers, storage bodies parsed as XML, content properties, labels, rate limiting with Retry-After and fault
// injection (latency, 5xx, a person editing a page between a client's read and its write).
//
// Every behaviour cites the vendor reference it comes from. The main references are
//
//   - Confluence Cloud REST v1, content: https://developer.atlassian.com/cloud/confluence/rest/v1/api-group-content/
//   - content properties: https://developer.atlassian.com/cloud/confluence/rest/v1/api-group-content-properties/
//     and https://developer.atlassian.com/cloud/confluence/content-properties/
//   - content labels: https://developer.atlassian.com/cloud/confluence/rest/v1/api-group-content-labels/
//   - rate limiting: https://developer.atlassian.com/cloud/confluence/rate-limiting/
//   - Data Center URI structure (context path + /rest/api): https://docs.atlassian.com/atlassian-confluence/REST/5.9.7/
//
// The simulator records every request so tests assert what a client sent, and has seed helpers for the
// situations a sync must survive (a foreign page with the same title, a manual edit).
package confluencesim
