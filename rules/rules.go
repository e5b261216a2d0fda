// Package rules embeds graphsoar's starter playbook library: the rule files
// of this directory and their lists, for `graphsoar demo` and any binary run
// without a rules directory of its own. The *_test.yaml files beside them are
// their rule tests (graphsoar test --rules rules).
package rules

import (
	"embed"
	"io/fs"
)

//go:embed *.yaml lists/*.txt
var files embed.FS

// FS returns the starter rules (rule files at the root, lists under lists/).
func FS() fs.FS { return files }
