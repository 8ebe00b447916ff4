// Command happner runs a happn server, a happner mesh or a happner-cluster
// member, and looks into running nodes:
//
//	happner serve [--config happn.yaml | --port 55000 ...]
//	happner member --config member.yaml
//	happner get|set|remove|on|call|describe|members ... [--url http://127.0.0.1:55000]
//	happner version
//
// It is the command line of package cli with no modules registered; build
// your own binary with cli.Main to host your components.
package main

import (
	"github.com/happner-go/happner"
	"github.com/happner-go/happner/cli"
)

func main() { cli.Main(happner.NewRegistry()) }
