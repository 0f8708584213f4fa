package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/flowhist/flowhist/client"
	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"
)

func (m *Main) rolloutCommand(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rollout",
		Short: "Stage deploys through rings of workers: the policy, the status, and an operator's actions",
		Long: `rollout shows and steers a namespace's staged rollout (see the README's
"Staged rollout" and docs/rollout.md): with a policy, a deploy reaches the
first ring of workers, and each later ring only once the ring before it
stayed healthy for its bake time; a failed gate rolls back by itself.
` + exitCodesHelp,
	}
	cmd.AddCommand(m.rolloutPolicyCommand(v), m.rolloutStatusCommand(v))
	for _, a := range []struct{ name, short string }{
		{"promote", "Take the current ring as passed now and promote the next (no bake, gate or window)"},
		{"pause", "Stop promotions until resume (a failed gate still rolls back)"},
		{"resume", "Go on after a pause; bakes go on where they were"},
		{"abort", "Stop the rollout and roll back to the last good revision"},
	} {
		cmd.AddCommand(m.rolloutActionCommand(v, a.name, a.short))
	}
	return cmd
}

func (m *Main) rolloutPolicyCommand(v *viper.Viper) *cobra.Command {
	var file string
	var del bool
	cmd := &cobra.Command{
		Use:   "policy [--file policy.json | --delete]",
		Short: "Print, set (--file; - for stdin) or remove (--delete) the namespace's rollout policy",
		Long: `policy prints the namespace's rollout policy; --file FILE sets it from a JSON
file ("-": standard input), --delete removes it (every worker follows the
head again). Setting or removing needs an admin-scoped token. The format:

  {"rings": [{"name": "canary", "bake": "10m",
              "gate": {"maxErrors": 0, "maxRestarts": 0, "deadline": "60s",
                       "probes": [{"path": "/health", "status": 200, "every": "5s"}]}},
             {"name": "default"}],
   "windows": ["Sat 02:00-04:00 UTC"]}
` + exitCodesHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file != "" && del {
				return &domain.Error{Code: domain.EINVALID, Message: "give --file or --delete, not both"}
			}
			c, err := newClient(v)
			if err != nil {
				return err
			}
			switch {
			case del:
				st, err := c.DeleteRolloutPolicy(cmd.Context())
				if err != nil {
					return err
				}
				if jsonFlag(cmd) {
					return printAnswer(m.Stdout, st)
				}
				fmt.Fprintf(m.Stdout, "namespace %s has no rollout policy now: every worker follows the head\n", c.Namespace())
				return nil
			case file != "":
				body, err := readPolicy(cmd.InOrStdin(), file)
				if err != nil {
					return err
				}
				p, err := c.SetRolloutPolicy(cmd.Context(), body)
				if err != nil {
					return err
				}
				if jsonFlag(cmd) {
					return printAnswer(m.Stdout, p)
				}
				return printPolicy(m.Stdout, p)
			}
			p, err := c.RolloutPolicy(cmd.Context())
			if err != nil {
				return err
			}
			if jsonFlag(cmd) {
				return printAnswer(m.Stdout, p)
			}
			return printPolicy(m.Stdout, p)
		},
	}
	addClientFlags(cmd.Flags())
	cmd.Flags().StringVar(&file, "file", "", "set the policy from this JSON file (- for stdin)")
	cmd.Flags().BoolVar(&del, "delete", false, "remove the policy")
	return cmd
}

// readPolicy reads a policy file ("-": in) as JSON.
func readPolicy(in io.Reader, file string) ([]byte, error) {
	var b []byte
	var err error
	if file == "-" {
		b, err = io.ReadAll(io.LimitReader(in, 1<<20))
	} else {
		b, err = os.ReadFile(file)
	}
	if err != nil {
		return nil, &domain.Error{Code: domain.EINVALID, Message: fmt.Sprintf("read the policy: %v", err)}
	}
	if !json.Valid(b) {
		return nil, &domain.Error{Code: domain.EINVALID, Message: fmt.Sprintf("policy %s is not JSON: see flowhist rollout policy --help for the format", file)}
	}
	return b, nil
}

func printPolicy(w io.Writer, p domain.RolloutPolicy) error {
	rows := make([][]string, len(p.Rings))
	for i, r := range p.Rings {
		probes := "-"
		if len(r.Gate.Probes) > 0 {
			probes = ""
			for j, pr := range r.Gate.Probes {
				if j > 0 {
					probes += " "
				}
				probes += fmt.Sprintf("%s=%d/%s", pr.Path, pr.Status, time.Duration(pr.Every))
			}
		}
		rows[i] = []string{strconv.Itoa(i + 1), r.Name, time.Duration(r.Bake).String(), strconv.Itoa(r.Gate.MaxErrors), strconv.Itoa(r.Gate.MaxRestarts), time.Duration(r.Gate.Deadline).String(), oneLine(probes, 100)}
	}
	if err := printTable(w, []string{"#", "RING", "BAKE", "MAX-ERRORS", "MAX-RESTARTS", "DEADLINE", "PROBES"}, rows); err != nil {
		return err
	}
	for _, win := range p.Windows {
		fmt.Fprintf(w, "window: %s\n", oneLine(win, 100))
	}
	return nil
}

func (m *Main) rolloutStatusCommand(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the current (or last) rollout: its state, each ring's target and workers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return m.showRollout(cmd, v, func(c *client.Client) (httpapi.RolloutStatus, error) { return c.Rollout(cmd.Context()) })
		},
	}
	addClientFlags(cmd.Flags())
	return cmd
}

// showRollout prints the status call answers, as a table or (--json) as
// the server's JSON.
func (m *Main) showRollout(cmd *cobra.Command, v *viper.Viper, call func(*client.Client) (httpapi.RolloutStatus, error)) error {
	c, err := newClient(v)
	if err != nil {
		return err
	}
	st, err := call(c)
	if err != nil {
		return err
	}
	if jsonFlag(cmd) {
		return printAnswer(m.Stdout, st)
	}
	return printRollout(m.Stdout, c.Namespace(), st)
}

func printRollout(w io.Writer, ns string, st httpapi.RolloutStatus) error {
	if st.Policy == nil {
		fmt.Fprintf(w, "namespace %s has no rollout policy: every worker follows the head\n", ns)
		return nil
	}
	fmt.Fprintf(w, "state: %s", st.State)
	if st.Revision > 0 {
		fmt.Fprintf(w, "  revision %d (base %d)", st.Revision, st.Base.Revision)
	}
	fmt.Fprintln(w)
	if st.Reason != "" {
		fmt.Fprintf(w, "reason: %s\n", oneLine(st.Reason, 200))
	}
	rows := [][]string{}
	for _, r := range st.Rings {
		bake := "-"
		if r.BakeUntil != nil {
			bake = r.BakeUntil.Format(time.RFC3339)
		}
		rows = append(rows, []string{r.Name, r.Target.Revision.String(), strconv.FormatBool(r.Promoted), fmt.Sprintf("%d/%d", r.Done, r.Total), bake})
		for _, wk := range r.Workers {
			state := "healthy"
			if !wk.Healthy {
				state = oneLine(wk.Problem, 100)
			}
			rows = append(rows, []string{"  " + wk.Worker, wk.Revision.String(), "", "", state})
		}
	}
	return printTable(w, []string{"RING", "TARGET", "PROMOTED", "DONE", "BAKE-UNTIL/HEALTH"}, rows)
}

func (m *Main) rolloutActionCommand(v *viper.Viper, action, short string) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   action + ` [--reason "why"]`,
		Short: short,
		Long:  short + ". It needs an admin-scoped token; the step is an event in the history, with the reason.\n" + exitCodesHelp,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return m.showRollout(cmd, v, func(c *client.Client) (httpapi.RolloutStatus, error) {
				return c.RolloutAction(cmd.Context(), action, reason)
			})
		},
	}
	addClientFlags(cmd.Flags())
	cmd.Flags().StringVar(&reason, "reason", "", "why, recorded in the history")
	return cmd
}
