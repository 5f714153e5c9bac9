package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/config"
	"vigil/internal/store"
	"vigil/internal/store/backend"
)

// userUsage lists the user commands.
const userUsage = `usage:
  vigil user add --name NAME [--admin] [--json]   create a user, or give one a new password (printed once)
  vigil user list                                 list users
  vigil user disable NAME                         stop a user signing in and viewing (live views end within a second)
  vigil user enable NAME                          let a disabled user back in
  vigil user quota NAME [BYTES]                   show or set the footage NAME's household keeps over all its cameras
                                                  (e.g. 200GiB; 0: the server's record_quota); the oldest unpinned goes first`

// runUser handles the user admin commands. They work on the data directory
// directly; a running server learns of disabling and password resets from
// the store's revocation log and ends the user's live viewing.
func runUser(ctx context.Context, c command, args []string) error {
	if len(args) == 0 {
		return errors.New(userUsage)
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		_, err := fmt.Fprintln(c.out, userUsage)
		return cmp.Or(err, errHelpShown)
	}
	fs := c.flagSet("user " + args[0])
	name := fs.String("name", "", "user name (letters, digits, '-', '_', '.')")
	admin := fs.Bool("admin", false, "an operator: may view unclaimed cameras and read metrics")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := c.parse(fs, args[1:], userUsage)
	if err != nil {
		return err
	}
	cfg, err := c.config()
	if err != nil {
		return err
	}
	stdout := c.out
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	switch args[0] {
	case "add":
		if len(pos) != 0 {
			return errors.New(userUsage)
		}
		return addUser(ctx, st, *name, *admin, *asJSON, stdout)
	case "list":
		return listUsers(ctx, st, stdout)
	case "disable", "enable":
		if len(pos) != 1 {
			return errors.New(userUsage)
		}
		u, err := st.UserByName(ctx, pos[0])
		if err != nil {
			return fmt.Errorf("user %q: %w", pos[0], err)
		}
		if err := st.SetUserDisabled(ctx, u.ID, args[0] == "disable"); err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "user %s %sd\n", u.Name, args[0])
		return err
	case "quota":
		if len(pos) != 1 && len(pos) != 2 {
			return errors.New(userUsage)
		}
		return userQuota(ctx, st, pos, stdout)
	}
	return errors.New(userUsage)
}

// addUser creates the user, or gives an existing one a new generated
// password (ending the password the user chose and every sign-in session),
// and prints the password once. Generated passwords are high-entropy, so
// they can be stored as the digest hashes RTSP players need.
func addUser(ctx context.Context, st backend.Store, nameV string, adminV, asJSONV bool, stdout io.Writer) error {
	name, admin, asJSON := &nameV, &adminV, &asJSONV
	if !validName(*name) {
		return fmt.Errorf("--name %q: use 1-64 letters, digits, '-', '_' or '.'", *name)
	}
	password, err := auth.NewPassword()
	if err != nil {
		return err
	}
	cred := auth.HashCredential(*name, password)
	u, err := st.UserByName(ctx, *name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		u = store.User{ID: access.UserID("u-" + *name), Name: *name, Admin: *admin, Credential: cred}
		err = st.UpsertUser(ctx, u)
	case err == nil && *admin && !u.Admin:
		return fmt.Errorf("user %s exists and is not an admin; admins are made when the user is created", *name)
	case err == nil:
		err = st.ResetCredential(ctx, u.ID, cred)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{"id": u.ID, "name": u.Name, "admin": u.Admin, "password": password})
	}
	_, err = fmt.Fprintf(stdout, "user\t%s\npassword\t%s\n\nThe password is shown only now; `vigil user add --name %s` again sets a new one.\n",
		u.Name, password, u.Name)
	return err
}

func listUsers(ctx context.Context, st backend.Store, stdout io.Writer) error {
	users, err := st.Users(ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tID\tADMIN\tDISABLED\tCREATED")
	for _, u := range users {
		fmt.Fprintf(w, "%s\t%s\t%t\t%t\t%s\n", u.Name, u.ID, u.Admin, u.Disabled, u.CreatedAt.UTC().Format(time.RFC3339))
	}
	return w.Flush()
}

func validName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	return strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == ""
}

// userQuota shows the quota of the household of user pos[0], or sets it
// to pos[1]; the next retention sweep applies it.
func userQuota(ctx context.Context, st backend.Store, pos []string, stdout io.Writer) error {
	u, err := st.UserByName(ctx, pos[0])
	if err != nil {
		return fmt.Errorf("user %q: %w", pos[0], err)
	}
	if len(pos) == 2 {
		n, err := config.ParseSize(pos[1])
		if err != nil {
			return fmt.Errorf("quota %q: %w", pos[1], err)
		}
		if err := st.SetQuota(ctx, u.ID, n); err != nil {
			return err
		}
	}
	n, err := st.Quota(ctx, u.ID)
	if err != nil {
		return err
	}
	if n == 0 {
		_, err = fmt.Fprintf(stdout, "user %s: the server's record_quota\n", u.Name)
		return err
	}
	_, err = fmt.Fprintf(stdout, "user %s: %d bytes\n", u.Name, n)
	return err
}
