package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// envName is a flag's environment twin: --data-dir → RINGRIFT_DATA_DIR.
func envName(flagName string) string {
	return "RINGRIFT_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// envFlags defines flags with environment twins on a FlagSet: a flag's
// default is the value its pointer holds (the Config's default), replaced
// by the environment variable when set; the command line wins over both.
// Environment values that do not parse are collected (Err), each naming its
// variable.
type envFlags struct {
	fs      *flag.FlagSet
	getenv  func(string) string
	errs    []error
	secrets []func()
	// argsHint follows the error of an unexpected positional argument.
	argsHint string
}

func newEnvFlags(name, usage string, getenv func(string) string) *envFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	return &envFlags{fs: fs, getenv: getenv}
}

// env applies the flag's environment twin, if set, with parse.
func (e *envFlags) env(name, want string, parse func(string) error) {
	if v := e.getenv(envName(name)); v != "" {
		if err := parse(v); err != nil {
			e.errs = append(e.errs, fmt.Errorf("%w: %s=%q: want %s", errConfig, envName(name), v, want))
		}
	}
}

func usage(name, u string) string { return u + " (env " + envName(name) + ")" }

func (e *envFlags) String(p *string, name, u string) {
	e.env(name, "a string", func(v string) error { *p = v; return nil })
	e.fs.StringVar(p, name, *p, usage(name, u))
}

func (e *envFlags) Bool(p *bool, name, u string) {
	e.env(name, "true or false", func(v string) (err error) { *p, err = strconv.ParseBool(v); return err })
	e.fs.BoolVar(p, name, *p, usage(name, u))
}

func (e *envFlags) Duration(p *time.Duration, name, u string) {
	e.env(name, "a duration such as 30s", func(v string) (err error) { *p, err = time.ParseDuration(v); return err })
	e.fs.DurationVar(p, name, *p, usage(name, u))
}

func (e *envFlags) Int(p *int, name, u string) {
	e.env(name, "an integer", func(v string) (err error) { *p, err = strconv.Atoi(v); return err })
	e.fs.IntVar(p, name, *p, usage(name, u))
}

func (e *envFlags) Int64(p *int64, name, u string) {
	e.env(name, "an integer", func(v string) (err error) { *p, err = strconv.ParseInt(v, 10, 64); return err })
	e.fs.Int64Var(p, name, *p, usage(name, u))
}

func (e *envFlags) Uint64(p *uint64, name, u string) {
	e.env(name, "a non-negative integer", func(v string) (err error) { *p, err = strconv.ParseUint(v, 10, 64); return err })
	e.fs.Uint64Var(p, name, *p, usage(name, u))
}

func (e *envFlags) Float64(p *float64, name, u string) {
	e.env(name, "a number", func(v string) (err error) { *p, err = strconv.ParseFloat(v, 64); return err })
	e.fs.Float64Var(p, name, *p, usage(name, u))
}

// Secret defines a flag whose environment twin is read only after parsing
// (Parse), so that --help never prints it as a default.
func (e *envFlags) Secret(p *string, name, u string) {
	e.fs.StringVar(p, name, "", usage(name, u))
	e.secrets = append(e.secrets, func() {
		if *p == "" {
			*p = e.getenv(envName(name))
		}
	})
}

// Parse parses args. --help (-h) prints the usage to help and returns
// flag.ErrHelp; other errors wrap errConfig and name the flag or the
// variable; positional arguments are refused.
func (e *envFlags) Parse(args []string, help io.Writer) error {
	err := e.fs.Parse(args)
	for _, f := range e.secrets {
		f()
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
		e.fs.SetOutput(help)
		e.fs.Usage()
		return err
	case err != nil:
		return fmt.Errorf("%w: %w", errConfig, err)
	case e.fs.NArg() > 0:
		return fmt.Errorf("%w: unexpected argument %q%s", errConfig, e.fs.Arg(0), e.argsHint)
	}
	return errors.Join(e.errs...)
}
