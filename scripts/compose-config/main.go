// Loads a compose file with compose-go, the reference implementation `docker compose config` uses
// (schema, interpolation, merge keys, normalization), and prints the resolved project as YAML; exit
// 1 with compose's own message when it refuses the file. Used by test/deploy/compose.test.ts.
//
//	go run ./scripts/compose-config <compose file> <env file>
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: compose-config <compose file> <env file>")
		os.Exit(2)
	}
	// Every profile, so the optional services are loaded and checked too.
	opts, err := cli.NewProjectOptions([]string{os.Args[1]},
		cli.WithEnvFiles(os.Args[2]), cli.WithDotEnv, cli.WithProfiles([]string{"*"}))
	if err == nil {
		var out []byte
		project, loadErr := opts.LoadProject(context.Background())
		if err = loadErr; err == nil {
			if out, err = project.MarshalYAML(); err == nil {
				fmt.Print(string(out))
				return
			}
		}
	}
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
