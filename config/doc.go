// Package config loads and validates covsync's YAML configuration (docs/architecture.md, Contracts): strict
// keys, ${VAR} expansion, secrets only from the environment or from files, defaults, and a report of every
// problem at once, each naming the file, line and key.
//
// It is plain data and validation: it reads the config file and the secret files it names, and nothing
// else (no network, no database).
package config
