package config

import "regexp"

// fieldRefNameRE is Microsoft's rule for a work-item field reference name: letters, digits and underscores
// in at least two parts separated by periods, starting with a letter: "A field reference name cannot start
// with a number or an underscore" and must contain a period, not at its start or end
// (https://learn.microsoft.com/en-us/previous-versions/visualstudio/visual-studio-2008/ms194941(v=vs.90),
// "Field Reference Name Naming Conventions"). The rule also allows single hyphens; covsync has never
// accepted them and keeps refusing them.
var fieldRefNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+$`)

// IsFieldRefName reports whether s is an Azure DevOps work-item field reference name such as
// Custom.TestCoverage. The config validator and the ado connector use this one rule.
func IsFieldRefName(s string) bool { return fieldRefNameRE.MatchString(s) }
