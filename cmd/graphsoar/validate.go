package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/graph"
	"github.com/graphsoar/graphsoar/internal/rules"
)

func newValidateCmd(s stdio) *cobra.Command {
	var dir, graphURL, blockWith string
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check rule files; print one path:line:col: message line per problem",
		Long: "Check rule files. Each error is printed on standard output as path:line:col: message, and the exit\n" +
			"status is 1. Each warning (an expired rule, a rule that can never run, a list no rule reads, a list\n" +
			"value written twice) is printed on standard error as path:line:col: warning: message; warnings alone\n" +
			"leave the exit status 0.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rs, err := rules.Load(dir, actions.Builtin())
			var le *rules.LoadError
			if errors.As(err, &le) {
				for _, e := range le.Errors {
					fmt.Fprintln(s.out, e.Error())
				}
				return &exitError{code: 1}
			}
			if err != nil {
				return err
			}
			warnings := rs.Warnings(time.Now())
			for _, w := range warnings {
				fmt.Fprintln(s.err, w.String())
			}
			backend := graph.Config{Root: graphURL, Defender: graph.Defender{BlockWith: graph.BlockBackend(blockWith)}}
			if w := backend.LegacyWarning(); w != "" {
				fmt.Fprintln(s.err, "warning:", w)
			}
			fmt.Fprintf(s.err, "%s: %d rules, %d lists in %d files: ok%s\n", dir, len(rs.Rules()), len(rs.Lists()), len(rs.Files()), warningCount(len(warnings)))
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "rules", "rules", "rules directory")
	cmd.Flags().StringVar(&graphURL, "graph-url", graph.DefaultRoot, "the Graph root the rules will run against (for the backend warning)")
	cmd.Flags().StringVar(&blockWith, "block-with", string(graph.BlockIndicators), "block_file_hash backend the rules will run with: indicators or securityActions")
	return cmd
}

// warningCount is the summary's tail: "" without warnings (the line stays
// as it always was), else ", 1 warning" or ", N warnings".
func warningCount(n int) string {
	switch n {
	case 0:
		return ""
	case 1:
		return ", 1 warning"
	}
	return fmt.Sprintf(", %d warnings", n)
}

// loadRules loads the rules or returns their errors as an exit-1 error.
func loadRules(dir string) (*rules.RuleSet, error) {
	rs, err := rules.Load(dir, actions.Builtin())
	if err != nil {
		return nil, &exitError{code: 1, err: fmt.Errorf("rules not valid:\n%w", err)}
	}
	return rs, nil
}
