package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
)

var known = []string{"one", "two", "three"}

func parse(args ...string) (*Target, error) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var tg Target
	tg.Register(fs, "server", "servers", known)
	if err := tg.Parse(fs, args); err != nil {
		return nil, err
	}
	return &tg, tg.CheckLogin()
}

func TestTarget(t *testing.T) {
	tg, err := parse("--addr", "h:1", "--scenario", "three, one", "--warmup", "2s", "--coalesce=false",
		"--username", "u", "--password", "p")
	if err != nil {
		t.Fatal(err)
	}
	if tg.Addr != "h:1" || !slices.Equal(tg.Scenarios, []string{"three", "one"}) || tg.Warmup.String() != "2s" ||
		tg.Coalesce || tg.Username != "u" || tg.Password != "p" {
		t.Fatalf("parsed %+v", tg)
	}
	if tg, err = parse("--addr", "h:1", "--scenario", "all"); err != nil || !slices.Equal(tg.Scenarios, known) || !tg.Coalesce {
		t.Fatalf("all: %+v %v", tg, err)
	}
	for want, args := range map[string][]string{
		"--addr is required":                  {"--scenario", "one"},
		"--scenario is required":              {"--addr", "h:1"},
		`unknown scenario "four" (want one o`: {"--addr", "h:1", "--scenario", "one,four"},
		"unexpected arguments":                {"--addr", "h:1", "--scenario", "one", "extra"},
		"--username and --password go togeth": {"--addr", "h:1", "--scenario", "one", "--password", "p"},
		"flag provided but not defined":       {"--nope"},
	} {
		if _, err := parse(args...); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err %v, want %q", args, err, want)
		}
	}
}

func TestCommandMain(t *testing.T) {
	var ran []string
	cmd := Command[string]{
		Name: "tool",
		Table: func(args []string, stdout, _ io.Writer) error {
			fs := flag.NewFlagSet("tool table", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			if err := fs.Parse(args); err != nil {
				return err
			}
			if fs.NArg() == 0 {
				return errors.New("no input")
			}
			_, err := io.WriteString(stdout, "table of "+fs.Arg(0))
			return err
		},
		Parse: func(args []string, _ io.Writer) (string, error) {
			fs := flag.NewFlagSet("tool", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			if err := fs.Parse(args); err != nil {
				return "", err
			}
			if fs.NArg() != 1 {
				return "", errors.New("want one argument")
			}
			return fs.Arg(0), nil
		},
		Bench: func(ctx context.Context, cfg string, _, _ io.Writer) int {
			if ctx.Err() != nil {
				return 9
			}
			ran = append(ran, cfg)
			if cfg == "fail" {
				return 1
			}
			return 0
		},
	}
	for _, c := range []struct {
		args    []string
		code    int
		out     string
		errText string
	}{
		{[]string{"x"}, 0, "", ""},
		{[]string{"fail"}, 1, "", ""},
		{[]string{}, 2, "", "tool: want one argument\n"},
		{[]string{"-h"}, 0, "", ""},
		{[]string{"table", "f"}, 0, "table of f", ""},
		{[]string{"table"}, 2, "", "tool table: no input\n"},
		{[]string{"table", "-h"}, 0, "", ""},
	} {
		var out, errOut bytes.Buffer
		if code := cmd.Main(c.args, &out, &errOut); code != c.code || out.String() != c.out || errOut.String() != c.errText {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want %d, %q, %q", c.args, code, out.String(), errOut.String(), c.code, c.out, c.errText)
		}
	}
	if !slices.Equal(ran, []string{"x", "fail"}) {
		t.Fatalf("bench ran for %q", ran)
	}
}
