package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/flowhist/flowhist/httpapi"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"
)

func (m *Main) workersCommand(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "workers",
		Short: "List the Node-RED workers following a namespace and how far behind they are",
		Long: `workers lists every worker that follows the namespace's feed: the revision
it acknowledged, how many revisions it has not acknowledged yet (LAG), how
many were delivered to it and not acknowledged (PENDING), and how long it
has been idle.
` + exitCodesHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newClient(v, cmd)
			if err != nil {
				return err
			}
			var res httpapi.Workers
			data, err := c.get(cmd.Context(), "/workers", nil, &res)
			if err != nil {
				return err
			}
			if jsonFlag(cmd) {
				return printJSON(m.Stdout, data)
			}
			if len(res.Workers) == 0 {
				fmt.Fprintf(m.Stdout, "no workers follow namespace %s (at revision %d)\n", c.ns, res.Revision)
				return nil
			}
			rows := make([][]string, len(res.Workers))
			for i, w := range res.Workers {
				idle := (time.Duration(w.IdleSeconds * float64(time.Second))).Round(time.Second)
				rows[i] = []string{w.Worker, w.Acknowledged.String(), strconv.FormatUint(w.Lag, 10), strconv.FormatInt(w.Pending, 10), idle.String()}
			}
			return printTable(m.Stdout, []string{"WORKER", "ACKED", "LAG", "PENDING", "IDLE"}, rows)
		},
	}
	addClientFlags(cmd.Flags())
	return cmd
}
