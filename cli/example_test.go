package cli_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/cli"
)

// Calc is a component of your own.
type Calc struct{}

// Add returns a + b.
func (Calc) Add(a, b float64) (float64, error) { return a + b, nil }

// A binary of your own is cli.Main with your modules registered:
//
//	func main() {
//		reg := happner.NewRegistry()
//		reg.RegisterValue("calc", Calc{})
//		cli.Main(reg)
//	}
//
// Run is what Main runs; here it serves a mesh from a config file until
// the context ends, and a second Run calls the component as an operator
// would (happner call calc add 2 3 --url …).
func ExampleRun() {
	reg := happner.NewRegistry()
	reg.RegisterValue("calc", Calc{})

	dir, _ := os.MkdirTemp("", "cli-example")
	defer os.RemoveAll(dir)
	config := filepath.Join(dir, "mesh.yaml")
	_ = os.WriteFile(config, []byte(`
name: example
happn: {host: 127.0.0.1, port: 0}
modules: {calc: {}}
components: {calc: {}}
`), 0o600)

	ctx, stop := context.WithCancel(context.Background())
	out, lines := io.Pipe()
	done := make(chan int)
	go func() {
		done <- cli.Run(ctx, []string{"serve", "--config", config}, lines, io.Discard, reg)
		_ = lines.Close()
	}()
	listening := bufio.NewScanner(out)
	listening.Scan() // happner mesh example listening on 127.0.0.1:PORT
	fields := strings.Fields(listening.Text())
	url := "http://" + fields[len(fields)-1]
	go func() { _, _ = io.Copy(io.Discard, out) }()

	code := cli.Run(context.Background(), []string{"call", "calc", "add", "2", "3", "--url", url}, os.Stdout, os.Stderr, nil)
	fmt.Println("exit status", code)

	stop()
	fmt.Println("node exit status", <-done)
	// Output:
	// 5
	// exit status 0
	// node exit status 0
}
