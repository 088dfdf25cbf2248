package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/report"
)

// mergeOptions combines the JSON reports of several shards into one.
type mergeOptions struct {
	scanOptions
	Inputs []string
}

func newMergeCmd(sys *IO) *cobra.Command {
	o := &mergeOptions{scanOptions: scanOptions{sys: sys}}
	cmd := &cobra.Command{
		Use:   "merge REPORT.json...",
		Short: "Combine JSON reports (e.g. of org scan shards) into one",
		Long: `Combine JSON reports into one: one finding per key with every location of
every input, statistics added up, skips and warnings kept. The exit code is
that of a scan with the merged findings.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Inputs = args
			return o.run()
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&o.Format, "format", "f", "json", "output format: text, json, sarif or html")
	fs.StringVar(&o.ReportPath, "report", "", "write the merged report to `FILE` instead of stdout")
	fs.IntVar(&o.ExitCode, "exit-code", ExitLeaks, "exit code when the merged report has findings")
	fs.StringVar((*string)(&o.FailOn), "fail-on", "any", "which findings fail: any, active or never")
	return cmd
}

func (o *mergeOptions) run() error {
	if _, err := report.ParseFailOn(string(o.FailOn)); err != nil {
		return fmt.Errorf("unknown --fail-on %q (want any, active or never)", o.FailOn)
	}
	o.Workers = 1
	if err := o.validate(); err != nil {
		return err
	}
	merged, err := mergeReports(o.Inputs)
	if err != nil {
		return err
	}
	if err := o.write(merged); err != nil {
		return err
	}
	if o.failing(merged.Findings) {
		return leaks(o.ExitCode)
	}
	return nil
}

// mergeReports reads and combines reports. Later inputs' verified statuses
// win over earlier unverified ones (finding.Merge).
func mergeReports(paths []string) (*report.Report, error) {
	out := &report.Report{}
	lists := make([][]finding.Finding, 0, len(paths))
	verified := true
	for _, p := range paths {
		rep, err := readReportFile(p)
		if err != nil {
			return nil, err
		}
		lists = append(lists, rep.Findings)
		out.NearMisses = append(out.NearMisses, rep.NearMisses...)
		out.Skipped = append(out.Skipped, rep.Skipped...)
		out.Warnings = append(out.Warnings, rep.Warnings...)
		s := rep.Stats
		out.Stats.Commits += s.Commits
		out.Stats.Blobs += s.Blobs
		out.Stats.Files += s.Files
		out.Stats.URLs += s.URLs
		out.Stats.Bytes += s.Bytes
		out.Stats.DurationMS += s.DurationMS
		out.Stats.Allowed += s.Allowed
		out.Stats.Partial = out.Stats.Partial || s.Partial
		verified = verified && s.Verified
	}
	out.Findings = finding.Merge(lists...)
	finding.MergeMismatches(out.Findings, lists...)
	out.Stats.Verified = verified && len(paths) > 0
	return out, nil
}

func readReportFile(path string) (*report.Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read report: %w", err)
	}
	defer f.Close()
	rep, err := report.ReadJSON(f)
	if err != nil {
		return nil, fmt.Errorf("read report %s: %w", path, err)
	}
	return rep, nil
}
