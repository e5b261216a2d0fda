package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func newRoot(getenv func(string) string, s stdio) *cobra.Command {
	root := &cobra.Command{
		Use:   "graphsoar",
		Short: "Automated incident response for Microsoft Defender XDR",
		Long: `graphsoar evaluates YAML playbooks against Microsoft Defender XDR incident
events from NATS JetStream and carries out the matching actions as Microsoft
Graph writes.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return bindEnv(cmd, getenv)
		},
	}
	root.SetIn(s.in)
	root.SetOut(s.out)
	root.SetErr(s.err)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &exitError{code: 2, err: err} })
	root.AddCommand(
		newValidateCmd(s),
		newEvalCmd(s),
		newTestCmd(s),
		newSchemaCmd(s),
		newEmulatorCmd(s),
		newRunCmd(getenv, s),
		newLoadtestCmd(getenv, s),
		newPollCmd(getenv, s),
		newPublishCmd(s),
		newDemoCmd(s),
		newDLQCmd(s),
		newApprovalsCmd(s),
		newReplayCmd(s),
		newUndoCmd(getenv, s),
	)
	return root
}

// bindEnv sets every flag the command line did not set from its GRAPHSOAR_*
// variable (--nats-url from GRAPHSOAR_NATS_URL), so flags win over the
// environment.
func bindEnv(cmd *cobra.Command, getenv func(string) string) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || f.Name == "help" {
			return
		}
		name := envName(f.Name)
		v := getenv(name)
		if v == "" {
			return
		}
		if e := cmd.Flags().Set(f.Name, v); e != nil {
			err = &exitError{code: 2, err: fmt.Errorf("%s: %w", name, e)}
		}
	})
	return err
}

// envName is the environment variable of a flag: GRAPHSOAR_ and the flag name
// in upper case with - as _.
func envName(flag string) string {
	return "GRAPHSOAR_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}
