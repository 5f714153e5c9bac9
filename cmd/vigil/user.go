package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/config"
	"vigil/internal/store"
)

// runUser handles `vigil user add --name NAME [--admin] [--json]`: it creates
// the user, or gives an existing one a new password, and prints the password
// once. Passwords are generated (high-entropy), so they can be stored as the
// digest hashes RTSP players need.
func runUser(ctx context.Context, cfg config.Config, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "add" {
		return errors.New("usage: vigil user add --name NAME [--admin] [--json]")
	}
	fs := flag.NewFlagSet("user add", flag.ContinueOnError)
	name := fs.String("name", "", "user name (letters, digits, '-', '_', '.')")
	admin := fs.Bool("admin", false, "an operator: may view unclaimed cameras and read metrics")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if !validName(*name) {
		return fmt.Errorf("--name %q: use 1-64 letters, digits, '-', '_' or '.'", *name)
	}
	st, err := openStore(ctx, cfg.DataDir)
	if err != nil {
		return err
	}
	defer st.Close()
	password, err := auth.NewPassword()
	if err != nil {
		return err
	}
	u, err := st.UserByName(ctx, *name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		u = store.User{ID: access.UserID("u-" + *name), Name: *name}
	case err != nil:
		return err
	}
	u.Admin = u.Admin || *admin
	u.Credential = auth.HashCredential(*name, password)
	if err := st.UpsertUser(ctx, u); err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{"id": u.ID, "name": u.Name, "admin": u.Admin, "password": password})
	}
	_, err = fmt.Fprintf(stdout, "user\t%s\npassword\t%s\n\nThe password is shown only now; `vigil user add --name %s` again sets a new one.\n",
		u.Name, password, u.Name)
	return err
}

func validName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	return strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == ""
}
