package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/rules"
)

func newValidateCmd(s stdio) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check rule files; print one path:line:col: message line per problem",
		Args:  cobra.NoArgs,
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
			fmt.Fprintf(s.err, "%s: %d rules, %d lists in %d files: ok\n", dir, len(rs.Rules()), len(rs.Lists()), len(rs.Files()))
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "rules", "rules", "rules directory")
	return cmd
}

// loadRules loads the rules or returns their errors as an exit-1 error.
func loadRules(dir string) (*rules.RuleSet, error) {
	rs, err := rules.Load(dir, actions.Builtin())
	if err != nil {
		return nil, &exitError{code: 1, err: fmt.Errorf("rules not valid:\n%w", err)}
	}
	return rs, nil
}
