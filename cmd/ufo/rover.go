package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ufo-run/ufo/rover"
	"github.com/ufo-run/ufo/rover/wire"
)

func init() { extraCommands = append(extraCommands, newRoverCmd) }

func newRoverCmd() *cobra.Command { return roverCmd(os.Getenv) }

// roverOptions are the flags shared by the rover subcommands; getenv gives
// their UFO_* fallbacks.
type roverOptions struct {
	getenv  func(string) string
	server  string
	home    string
	outpost string
	name    string
	tags    []string

	logFormat, logLevel string
}

// roverCmd builds `ufo rover` reading the environment through getenv.
func roverCmd(getenv func(string) string) *cobra.Command {
	o := &roverOptions{getenv: getenv}
	cmd := &cobra.Command{
		Use:   "rover",
		Short: "Run this host as a rover: enroll it, start it, list or remove its registrations",
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&o.server, "server", "", "UFO server URL (env UFO_SERVER; default http://localhost:8080)")
	pf.StringVar(&o.home, "home", "", "directory of rovers.json (env UFO_HOME; default ~/.ufo)")
	pf.StringVar(&o.logFormat, "log-format", "", "log format: text or json (env UFO_LOG_FORMAT; default text)")
	pf.StringVar(&o.logLevel, "log-level", "", "log level: debug, info, warn, error (env UFO_LOG_LEVEL; default info)")
	cmd.AddCommand(o.startCmd(), o.enrollCmd(), o.listCmd(), o.removeCmd())
	return cmd
}

// config is the rover configuration from flags, then UFO_* variables, then
// defaults.
func (o *roverOptions) config(stderr io.Writer) (rover.Config, error) {
	home := firstSet(o.home, o.getenv("UFO_HOME"))
	if home == "" {
		dir, err := os.UserHomeDir()
		if err != nil {
			return rover.Config{}, fmt.Errorf("find the home directory (set UFO_HOME): %w", err)
		}
		home = filepath.Join(dir, ".ufo")
	}
	return rover.Config{
		Server:         firstSet(o.server, o.getenv("UFO_SERVER"), "http://localhost:8080"),
		Home:           home,
		Outpost:        firstSet(o.outpost, o.getenv("UFO_OUTPOST"), home),
		EnrollmentCode: o.getenv("UFO_ENROLLMENT_CODE"),
		Token:          o.getenv("UFO_ROVER_TOKEN"),
		Name:           o.name,
		Tags:           o.tags,
		Version:        version,
		Logger:         newLogger(stderr, firstSet(o.logFormat, o.getenv("UFO_LOG_FORMAT"), "text"), firstSet(o.logLevel, o.getenv("UFO_LOG_LEVEL"), "info")),
	}, nil
}

func firstSet(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

func (o *roverOptions) identityFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.name, "name", "", "rover name asked for at enrollment (default: the server's choice)")
	cmd.Flags().StringSliceVar(&o.tags, "tags", nil, "rover tags, comma separated, reported on every connect and added to those of the enrollment code (runs may require some)")
}

func (o *roverOptions) startCmd() *cobra.Command {
	var once bool
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "start",
		Short: "Run every rover registered here, or the one of UFO_ROVER_TOKEN",
		Long: `Start serves every rover registered in $UFO_HOME/rovers.json at once.

With UFO_ENROLLMENT_CODE set, it first enrolls a new rover with that code
(once: the registration remembers the code) and saves it. With
UFO_ROVER_TOKEN set, it runs that one rover and touches no file.

--once claims at most one run, executes it and exits 0 when it succeeded,
1 when it failed or was canceled, 2 when nothing was claimed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := o.config(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if !once {
				return rover.Run(cmd.Context(), cfg)
			}
			cfg.Wait = wait
			if cmd.Flags().Changed("wait") && wait <= 0 {
				cfg.Wait = -1 // --wait 0: ask once, do not wait
			}
			out, err := rover.Once(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			return onceExit(cmd.OutOrStdout(), out)
		},
	}
	cmd.Flags().StringVar(&o.outpost, "outpost", "", "directory of work dirs and mirrors (env UFO_OUTPOST; default $UFO_HOME)")
	cmd.Flags().BoolVar(&once, "once", false, "claim at most one run, execute it, exit with its outcome")
	cmd.Flags().DurationVar(&wait, "wait", 0, "with --once, how long to wait for a run (default: the server's long-poll time)")
	o.identityFlags(cmd)
	return cmd
}

// onceExit prints what --once did and turns it into the exit status.
func onceExit(w io.Writer, out rover.Outcome) error {
	switch {
	case !out.Claimed():
		fmt.Fprintln(w, "no run to claim")
		return exitCode(2)
	case out.Status == wire.RunSucceeded:
		fmt.Fprintf(w, "run %s succeeded\n", out.RunID)
		return nil
	}
	fmt.Fprintf(w, "run %s %s (%s)\n", out.RunID, out.Status, out.Reason)
	return exitCode(1)
}

func (o *roverOptions) enrollCmd() *cobra.Command {
	var code string
	cmd := &cobra.Command{
		Use:   "enroll",
		Short: "Enroll this host as a rover with an enrollment code, without starting it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := o.config(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			cfg.EnrollmentCode = firstSet(code, cfg.EnrollmentCode)
			if cfg.EnrollmentCode == "" {
				return fmt.Errorf("an enrollment code is needed: --code or UFO_ENROLLMENT_CODE")
			}
			reg, fresh, err := rover.Enroll(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			if !fresh {
				fmt.Fprintf(cmd.OutOrStdout(), "already enrolled with this code as rover %s (%s) on %s\n", reg.RoverID, reg.Name, reg.Server)
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "enrolled rover %s (%s) in fleet %s on %s\n", reg.RoverID, reg.Name, reg.FleetID, reg.Server)
			return nil
		},
	}
	cmd.Flags().StringVar(&code, "code", "", "enrollment code from the board or the API (env UFO_ENROLLMENT_CODE)")
	o.identityFlags(cmd)
	return cmd
}

func (o *roverOptions) listCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the rovers registered on this host",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := o.config(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			path := filepath.Join(cfg.Home, rover.RegistrationsFile)
			regs, err := rover.LoadRegistrations(path)
			if err != nil {
				return err
			}
			if len(regs) == 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "no rover registered in %s\n", path)
				return nil
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tFLEET\tSERVER")
			for _, r := range regs.Sorted() {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.RoverID, r.Name, r.FleetID, r.Server)
			}
			return tw.Flush()
		},
	}
}

func (o *roverOptions) removeCmd() *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "remove <id|unique prefix>",
		Short: "Remove a rover registration (or --all), revoking it on its server when reachable",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) == 1) {
				return fmt.Errorf("give a rover id (or a unique prefix of one), or --all")
			}
			cfg, err := o.config(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			removed, err := rover.Remove(cmd.Context(), cfg, strings.Join(args, ""), all)
			w := cmd.OutOrStdout()
			for _, r := range removed {
				if r.RevokeErr != nil {
					fmt.Fprintf(w, "removed rover %s (%s) here; could not revoke it on %s: %v\n", r.RoverID, r.Name, r.Server, r.RevokeErr)
					continue
				}
				fmt.Fprintf(w, "removed rover %s (%s), revoked on %s\n", r.RoverID, r.Name, r.Server)
			}
			if err == nil && len(removed) == 0 {
				fmt.Fprintln(w, "no rover registered here")
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "remove every rover registered here")
	return cmd
}
