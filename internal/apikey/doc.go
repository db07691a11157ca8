// Package apikey holds the ingest endpoint's project-scoped API keys: generated from crypto/rand, shown once,
// stored in covsync's schema as a SHA-256 hash beside a display prefix, checked in constant time, revoked
// for every replica at once (each request reads the key's row).
package apikey
