// Package simkit is the scaffolding the vendor simulators (connectors/jira/jirasim, connectors/ado/adosim,
// connectors/confluence/confluencesim) share: the request log, the status-recording response writer, latency
// injection, the token bucket behind 429 answers, queues of injected faults and loopback listeners.
//
// It holds no vendor behaviour: which answer a fault or an empty bucket produces (status, headers, error
// body), in which order a simulator checks authentication, rate and faults, and which requests count as
// writes stay in each simulator, next to the vendor documentation they follow.
package simkit
