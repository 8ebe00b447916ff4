package logging_test

import (
	"fmt"
	"os"

	"github.com/happner-go/happner/logging"
)

// A command line builds the node's logger from the "log" section of its
// configuration (or its --log-format and --log-level flags), and logs the
// effective configuration with secrets masked.
func Example() {
	log, err := logging.New(os.Stderr, logging.Options{Format: "json", Level: "info"})
	if err != nil {
		fmt.Println(err)
		return
	}
	log.Info("configuration", "config", logging.Summary(map[string]any{"port": 55000, "adminPassword": "happn"}))
	fmt.Println(logging.Summary(map[string]any{"port": 55000, "adminPassword": "happn"}))
	// Output:
	// {"adminPassword":"***","port":55000}
}
