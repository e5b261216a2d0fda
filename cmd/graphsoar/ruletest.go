package main

import (
	"fmt"
	"regexp"

	"github.com/spf13/cobra"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/ruletest"
)

func newTestCmd(s stdio) *cobra.Command {
	var dir, filter string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "test [TESTDIR]",
		Short: "Run rule tests (*_test.yaml); exit 1 on any failure",
		Long: `Run the rule tests found in TESTDIR (default: the rules directory): every
*_test.yaml file, each a list of cases with an event and the expected plan.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rs, err := loadRules(dir)
			if err != nil {
				return err
			}
			testDir := dir
			if len(args) == 1 {
				testDir = args[0]
			}
			var re *regexp.Regexp
			if filter != "" {
				if re, err = regexp.Compile(filter); err != nil {
					return &exitError{code: 2, err: fmt.Errorf("--run: %w", err)}
				}
			}
			cases, err := ruletest.Load(testDir, actions.Builtin())
			if err != nil {
				return &exitError{code: 1, err: fmt.Errorf("rule tests not valid:\n%w", err)}
			}
			var run []*ruletest.Case
			for _, c := range cases {
				if re == nil || re.MatchString(c.Name) {
					run = append(run, c)
				}
			}
			if len(run) == 0 {
				return &exitError{code: 1, err: fmt.Errorf("no rule tests (*_test.yaml) found in %s", testDir)}
			}
			failed := 0
			for _, r := range ruletest.Run(rs, run) {
				if r.Pass {
					if verbose {
						fmt.Fprintf(s.out, "ok    %s: %s\n", r.Case.Pos, r.Case.Name)
					}
					continue
				}
				failed++
				fmt.Fprintf(s.out, "FAIL  %s: %s\n  (- expected, + actual)\n%s", r.Case.Pos, r.Case.Name, r.Diff)
				for _, e := range r.Errors {
					fmt.Fprintf(s.out, "  rule %s failed: %s\n", e.Rule, e.Error)
				}
			}
			if failed > 0 {
				fmt.Fprintf(s.out, "FAIL  %d of %d rule tests failed\n", failed, len(run))
				return &exitError{code: 1}
			}
			fmt.Fprintf(s.out, "ok    %d rule tests passed\n", len(run))
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "rules", "rules", "rules directory")
	cmd.Flags().StringVar(&filter, "run", "", "run only the cases whose name matches this regular expression")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "list every case")
	return cmd
}
