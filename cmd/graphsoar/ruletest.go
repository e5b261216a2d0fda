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
	var verbose, coverage bool
	var minCoverage float64
	cmd := &cobra.Command{
		Use:   "test [TESTDIR]",
		Short: "Run rule tests (*_test.yaml); exit 1 on any failure",
		Long: `Run the rule tests found in TESTDIR (default: the rules directory): every
*_test.yaml file, each a list of cases with an event and the expected plan.

--coverage then lists what the cases did not exercise: the enabled rules whose
condition no case evaluated (a case that skips a rule, disabled, expired, not on
its change type or after a stop, does not count), and the terms of each
condition (the operands of its top-level && or ||, as eval --explain shows
them) that no case made true, or none made false. A term counts only in the
cases that reach it (not after the term that decided its chain).

--min-coverage P (implies --coverage) exits 1 when the coverage is below P
percent, the coverage being 100 x (terms made true by one case and false by
another) / (terms of the enabled rules, literal true and false terms left
out); 100 with no terms. Otherwise coverage never changes the exit status.`,
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
			} else {
				fmt.Fprintf(s.out, "ok    %d rule tests passed\n", len(run))
			}
			var below error
			if coverage || cmd.Flags().Changed("min-coverage") {
				cov := ruletest.Measure(rs, run)
				if err := cov.WriteText(s.out); err != nil {
					return err
				}
				if cmd.Flags().Changed("min-coverage") && cov.Percent() < minCoverage {
					below = &exitError{code: 1, err: fmt.Errorf("coverage %.1f%% is below --min-coverage %g%%", cov.Percent(), minCoverage)}
				}
			}
			if failed > 0 {
				return &exitError{code: 1}
			}
			return below
		},
	}
	cmd.Flags().StringVar(&dir, "rules", "rules", "rules directory")
	cmd.Flags().StringVar(&filter, "run", "", "run only the cases whose name matches this regular expression")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "list every case")
	cmd.Flags().BoolVar(&coverage, "coverage", false, "after the tests, list the rules and condition terms no case exercised")
	cmd.Flags().Float64Var(&minCoverage, "min-coverage", 0, "exit 1 when the term coverage is below this percent (implies --coverage)")
	return cmd
}
