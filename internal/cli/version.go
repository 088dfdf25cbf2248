package cli

import (
	"fmt"
	"runtime"

	"github.com/atomyx/atomyx-guard/internal/version"
	"github.com/spf13/cobra"
)

// newVersionCmd prints the build's version: the release tag, the module
// version of a `go install`, or 0.0.0-dev with the VCS revision. The same
// string goes into SARIF's driver.version.
func newVersionCmd(sys *IO) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of this build",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(sys.Out, "atomyx-guard %s (%s, %s/%s)\n", version.String(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}
