package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/facematch/facematch/engine"
)

// runAdminRecover issues a new admin credential on the data directory directly: the way back in
// when every admin credential is lost, since FACEMATCH_BOOTSTRAP_TOKEN only counts while no
// credential exists. Only someone with access to the machine holding the data can run it, and
// it takes the directory's lock, so the service must be stopped first. The audit log records
// it as credential.recover by the operating-system account.
func (m *Main) runAdminRecover(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("admin recover", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	var mc Config
	mc.bindModelFlags(fs, m.Getenv)
	var dc dataConfig
	dc.bind(fs, m.Getenv)
	name := fs.String("name", "", "name of the new admin credential (unique)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *name == "" {
		fmt.Fprintln(m.Stderr, "facematch admin recover: --name is required")
		return errUsage
	}
	if err := errors.Join(mc.Validate(), dc.Validate()); err != nil {
		return err
	}
	st, err := m.openCommandApp(ctx, mc, dc) // a running service holds the directory: stop it first
	if err != nil {
		return err
	}
	defer st.Close()
	t, secret, err := st.Service.RecoverAdmin(ctx, engine.Actor{Name: "cli:" + currentUser(m.Getenv)}, *name)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "new admin credential %q (id %d; shown once, store it now): %s\n", t.Name, t.ID, secret)
	return nil
}
