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
it acknowledged, how many revisions it has not acknowledged yet (LAG, with
"DIVERGED@N" for a worker that runs what the log does not hold: Valkey lost
a write it had been told of, at revision N; it is told to reload the head
and stays diverged until it acknowledges it), how
many were delivered to it and not acknowledged (PENDING), how long it
has been idle, the ring it named for staged rollouts (RING; "-": none, it
counts as "default"), and its installed node modules as it last reported them
(PACKAGES): "in step @N" with the admin's at revision N, "FAILED module@version:
error", or "-" when it never reported.
` + exitCodesHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newClient(v)
			if err != nil {
				return err
			}
			res, err := c.Workers(cmd.Context())
			if err != nil {
				return err
			}
			if jsonFlag(cmd) {
				return printAnswer(m.Stdout, res)
			}
			if len(res.Workers) == 0 {
				fmt.Fprintf(m.Stdout, "no workers follow namespace %s (at revision %d)\n", c.Namespace(), res.Revision)
				return nil
			}
			rows := make([][]string, len(res.Workers))
			for i, w := range res.Workers {
				idle := (time.Duration(w.IdleSeconds * float64(time.Second))).Round(time.Second)
				lag := strconv.FormatUint(w.Lag, 10)
				if w.Diverged {
					lag += " DIVERGED@" + w.DivergedAt.String()
				}
				ring := w.Ring
				if ring == "" {
					ring = "-"
				}
				rows[i] = []string{w.Worker, ring, w.Acknowledged.String(), lag, strconv.FormatInt(w.Pending, 10), idle.String(), packagesColumn(w.Packages)}
			}
			return printTable(m.Stdout, []string{"WORKER", "RING", "ACKED", "LAG", "PENDING", "IDLE", "PACKAGES"}, rows)
		},
	}
	addClientFlags(cmd.Flags())
	return cmd
}

// packagesColumn is the PACKAGES column of a worker's last package report.
func packagesColumn(p *httpapi.WorkerPackages) string {
	switch {
	case p == nil:
		return "-"
	case p.OK:
		return "in step @" + p.Revision.String()
	case p.Module != "":
		return oneLine(fmt.Sprintf("FAILED %s@%s: %s", p.Module, p.Version, p.Error), 100)
	default:
		return oneLine("FAILED: "+p.Error, 100)
	}
}
