package cli

import (
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/happner-go/happner/internal/version"
)

// VersionInfo is what "happner version" prints.
type VersionInfo struct {
	// Version is the happner-go module's version ("(devel)" for a build
	// inside its own repository).
	Version string `json:"version"`
	// Commit is the VCS revision the binary was built from, and Modified
	// whether its work tree had changes; empty when the build did not
	// record it.
	Commit   string `json:"commit,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	// Go is the Go version the binary was built with.
	Go string `json:"go"`
	// Main is the binary's own module when it is not happner-go (your own
	// binary built with cli.Main), with its version.
	Main        string `json:"main,omitempty"`
	MainVersion string `json:"mainVersion,omitempty"`
}

// Version reads the running binary's build information.
func Version() VersionInfo {
	v := VersionInfo{Version: "unknown", Go: runtime.Version()}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	v.Version = version.OfModule()
	if info.Main.Path != version.ModulePath {
		v.Main, v.MainVersion = info.Main.Path, info.Main.Version
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

func (e *env) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the module version, the commit and the Go version as JSON",
		Args:  noArgs,
		RunE: e.run(func(*cobra.Command, []string) error {
			return e.printJSON(Version())
		}),
	}
}
