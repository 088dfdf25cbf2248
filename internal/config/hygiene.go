package config

// fileHygiene is the [hygiene] table: environment separation ("use
// separate keys for development, staging, production").
type fileHygiene struct {
	// FailOnEnvironmentMismatch makes a scan fail (exit 1) when a key is
	// found where another environment's configuration lives, whatever
	// --fail-on says about its status.
	FailOnEnvironmentMismatch *bool `toml:"fail_on_environment_mismatch"`
}

func buildHygiene(c *Config, fh *fileHygiene) {
	if fh == nil {
		return
	}
	if fh.FailOnEnvironmentMismatch != nil {
		c.FailOnEnvironmentMismatch = *fh.FailOnEnvironmentMismatch
	}
}
