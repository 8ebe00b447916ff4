package version

import "runtime/debug"

// ModulePath is this project's Go module.
const ModulePath = "github.com/happner-go/happner"

// OfModule returns the version of this project's module in the running
// binary's build information: the main module's version when the binary is
// built in the project itself ("(devel)" from a source tree), else the
// dependency's, or its replacement's when one is given ("(devel)" for a
// directory). "unknown" when the binary carries no build information.
func OfModule() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	return ofModule(info)
}

func ofModule(info *debug.BuildInfo) string {
	if info.Main.Path == ModulePath {
		return info.Main.Version
	}
	for _, d := range info.Deps {
		if d.Path != ModulePath {
			continue
		}
		if d.Replace != nil && d.Replace.Version != "" {
			return d.Replace.Version
		}
		return d.Version
	}
	return "unknown"
}
