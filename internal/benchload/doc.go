// Package benchload writes the reference benchmark workload of docs/benchmarks.md (5,000 stories, 200 releases, 2,000
// runs, 1,000,000 test results by default) straight into the source schema with set-based SQL
// (generate_series), into the very tables `covsync ingest ctrf|coverage` fills: projects, releases, runs,
// test_results, test_tickets, the run_tickets aggregate the reader probes, and story_coverage.
//
// Going through CTRF files would measure the ingest parser instead of the sync, and take minutes; the SQL
// here mirrors what connectors/postgres's ingest stores (run_tickets aggregated from the links in the same
// way), so the reader sees exactly what it would after real ingests.
package benchload
