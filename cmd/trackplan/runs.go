package main

import (
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
)

func runsCommand() *cli.Command {
	return &cli.Command{
		Name:  "runs",
		Usage: "the run log of jobs (scheduled by serve, or run with serve --once)",
		Flags: []cli.Flag{
			formatFlag("text", "json"),
			&cli.StringFlag{Name: "job", Usage: "only this job"},
			&cli.IntFlag{Name: "limit", Value: 20, Usage: "how many runs, newest first"},
		},
		Action: func(c *cli.Context) error {
			format, err := checkFormat(c, "text", "json")
			if err != nil {
				return err
			}
			_, st, err := configuredStore(c)
			if err != nil {
				return err
			}
			defer st.Close()
			runs, err := st.Runs(c.Context, c.String("job"), c.Int("limit"))
			if err != nil {
				return upstream(err)
			}
			if format == "json" {
				if runs == nil {
					return writeJSON(c.App.Writer, []any{})
				}
				return writeJSON(c.App.Writer, runs)
			}
			tw := tabwriter.NewWriter(c.App.Writer, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tJOB\tSTARTED\tTOOK\tOUTCOME\tINSTANCE\tCOUNTS\tERROR")
			for _, r := range runs {
				keys := make([]string, 0, len(r.Counts))
				for k := range r.Counts {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				parts := make([]string, len(keys))
				for i, k := range keys {
					parts[i] = fmt.Sprintf("%s=%d", k, r.Counts[k])
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Job, r.Started.Format(time.DateTime),
					r.Finished.Sub(r.Started).Round(time.Millisecond), r.Outcome, r.Instance, strings.Join(parts, " "), oneLine(r.Error, 80))
			}
			return tw.Flush()
		},
	}
}
