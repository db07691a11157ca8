// Package confluence is covsync's Confluence target: one page per project (and optionally one per release)
// in a space under a parent page, in storage-format XHTML rendered by html/template, published through the
// Confluence REST v1 content API (Cloud: <site>/wiki/rest/api, Data Center: <context>/rest/api).
//
// covsync marks the pages it owns with the content property covsync.sync ({"hash", "version"}: the hash of the
// body it rendered and the page version it wrote). That mark is what makes a sync safe: a page with the wanted
// title but no mark belongs to someone else and is never taken over; an unchanged hash sends no write; a page
// version newer than the marked one means a person edited the page, and on_manual_edit decides whether
// covsync skips it or overwrites it (and says so either way).
//
// The body is a pure function of the report: it shows when the data was measured, never when it
// was synced, so an unchanged cycle renders the same bytes. Render and Title are exported so the page can be
// looked at before it is published (`covsync render confluence`).
package confluence
