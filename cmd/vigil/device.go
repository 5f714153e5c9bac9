package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/config"
	"vigil/internal/datadir"
	"vigil/internal/seal"
	"vigil/internal/store"
	"vigil/internal/store/backend"
)

const deviceUsage = `usage:
  vigil device add --name NAME [--source rtsp://user:pass@host/path] [--json]
  vigil device list [--json]
  vigil device remove ID
  vigil device rotate ID [--json]`

// runDevice runs `vigil device ...`; args are the words after "device".
// Passwords are printed once, by add and rotate, and stored only as hashes.
func runDevice(ctx context.Context, c command, args []string) error {
	a, err := parseDeviceArgs(c, args)
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
	out := deviceOutput{cfg: cfg, w: stdout, json: a.json}
	switch a.cmd {
	case "add":
		return addDevice(ctx, st, out, a.name, config.Secret(a.source))
	case "list":
		return listDevices(ctx, st, out)
	case "remove":
		if err := st.DeleteDevice(ctx, a.id); err != nil {
			return notFound(a.id, err)
		}
		_, err := fmt.Fprintf(stdout, "removed %s\n", a.id)
		return err
	default:
		return rotateDevice(ctx, st, out, a.id)
	}
}

// deviceArgs is a parsed and checked device command line.
type deviceArgs struct {
	cmd          string // add, list, remove or rotate
	id           access.DeviceID
	name, source string
	json         bool
}

// parseDeviceArgs checks everything it can before the store is opened (and
// maybe created).
func parseDeviceArgs(c command, args []string) (deviceArgs, error) {
	if len(args) == 0 {
		return deviceArgs{}, fmt.Errorf("device: missing command\n%s", deviceUsage)
	}
	a := deviceArgs{cmd: args[0]}
	if a.cmd == "-h" || a.cmd == "--help" || a.cmd == "help" {
		_, err := fmt.Fprintln(c.out, deviceUsage)
		return a, cmp.Or(err, errHelpShown)
	}
	fs := c.flagSet("device " + a.cmd)
	switch a.cmd {
	case "add":
		fs.StringVar(&a.name, "name", "", "device name")
		fs.StringVar(&a.source, "source", "", "rtsp:// or rtsps:// URL to pull from")
	case "list", "rotate", "remove":
	default:
		return a, fmt.Errorf("device: unknown command %q\n%s", a.cmd, deviceUsage)
	}
	if a.cmd != "remove" {
		fs.BoolVar(&a.json, "json", false, "print JSON")
	}
	want := 0 // positional arguments: remove and rotate take the device id
	if a.cmd == "remove" || a.cmd == "rotate" {
		want = 1
	}
	pos, err := c.parse(fs, args[1:], deviceUsage)
	if err != nil {
		return a, err
	}
	if len(pos) != want {
		return a, fmt.Errorf("device %s: want %d argument(s), got %q\n%s", a.cmd, want, pos, deviceUsage)
	}
	if want == 1 {
		if a.id, err = access.ParseDeviceID(pos[0]); err != nil {
			return a, fmt.Errorf("device %s: %w; run `vigil device list` to see the ids", a.cmd, err)
		}
	}
	if a.cmd == "add" {
		a.name = strings.TrimSpace(a.name)
		if a.name == "" {
			return a, errors.New(`device add: --name is required, e.g. vigil device add --name "front door"`)
		}
		if err := checkSource(a.source); err != nil {
			return a, fmt.Errorf("device add: %w", err)
		}
	}
	return a, nil
}

// parseInterspersed parses flags before, between and after positional
// arguments (the flag package stops at the first one) and returns those.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// openStore opens the store cfg names (SQLite in the data directory, or
// Postgres) with the data directory's secrets (a running server may have
// it open too: admin commands work beside it).
func openStore(ctx context.Context, cfg config.Config) (backend.Store, error) {
	dataDir := cfg.DataDir
	if err := datadir.Prepare(dataDir); err != nil {
		return nil, err
	}
	master, err := seal.LoadOrCreateMasterKey(filepath.Join(dataDir, datadir.MasterKeyFile))
	if err != nil {
		return nil, err
	}
	secrets, err := seal.NewSecrets(master)
	if err != nil {
		return nil, err
	}
	return backend.Open(ctx, backend.Kind(cfg.Store), filepath.Join(dataDir, datadir.DBFile), cfg.StoreDSN.Reveal(), secrets)
}

func notFound(id access.DeviceID, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("device %s not found; run `vigil device list` to see the ids", id)
	}
	return err
}

// checkSource accepts an empty source (a push camera) or an rtsp(s) URL.
// Errors show the URL redacted: it usually carries the camera's password.
func checkSource(source string) error {
	if source == "" {
		return nil
	}
	u, err := url.Parse(source)
	if err != nil || (u.Scheme != "rtsp" && u.Scheme != "rtsps") || u.Host == "" {
		return fmt.Errorf("--source %q: must be an rtsp:// or rtsps:// URL, e.g. rtsp://user:pass@192.0.2.10:554/stream1",
			redactSource(config.Secret(source)))
	}
	return nil
}

// redactSource returns the URL with its userinfo replaced by ***.
func redactSource(s config.Secret) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s.Reveal())
	if err != nil {
		return "[unparsable URL]"
	}
	if u.User == nil {
		return u.String()
	}
	u.User = nil // url.User("***") would be percent-encoded
	return u.Scheme + "://***@" + strings.TrimPrefix(u.String(), u.Scheme+"://")
}

func addDevice(ctx context.Context, st backend.Store, out deviceOutput, name string, source config.Secret) error {
	password, err := auth.NewPassword()
	if err != nil {
		return err
	}
	claim, err := auth.NewClaimCode()
	if err != nil {
		return err
	}
	d, err := createDevice(ctx, st, name, source, password, auth.ClaimHash(claim))
	if err != nil {
		return err
	}
	out.claim = claim
	return out.print([]store.Device{d}, password)
}

// createDevice stores a new device with a random id; ids are random, so the
// rare collision is retried instead of failing.
func createDevice(ctx context.Context, st backend.Store, name string, source config.Secret, password, claimSHA256 string) (store.Device, error) {
	for range 3 {
		id, err := store.NewDeviceID()
		if err != nil {
			return store.Device{}, err
		}
		d := store.Device{ID: id, Name: name, Source: source, Credential: auth.HashCredential(string(id), password),
			ClaimSHA256: claimSHA256}
		if err := st.CreateDevice(ctx, d); !errors.Is(err, store.ErrExists) {
			return d, err
		}
	}
	return store.Device{}, errors.New("device add: could not find a free device id; try again")
}

func rotateDevice(ctx context.Context, st backend.Store, out deviceOutput, id access.DeviceID) error {
	d, err := st.Device(ctx, id)
	if err != nil {
		return notFound(id, err)
	}
	password, err := auth.NewPassword()
	if err != nil {
		return err
	}
	d.Credential = auth.HashCredential(string(id), password)
	if err := st.SetDeviceCredential(ctx, id, d.Credential); err != nil {
		return notFound(id, err)
	}
	return out.print([]store.Device{d}, password)
}

func listDevices(ctx context.Context, st backend.Store, out deviceOutput) error {
	ds, err := st.Devices(ctx)
	if err != nil {
		return err
	}
	if len(ds) == 0 && !out.json {
		_, err := fmt.Fprintln(out.w, "no devices; add one with `vigil device add --name NAME`")
		return err
	}
	return out.print(ds, "")
}

// deviceJSON is one device as printed with --json.
type deviceJSON struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	PushURL  string `json:"push_url"`
	User     string `json:"user"`
	Password string `json:"password,omitempty"`   // only right after add or rotate
	Claim    string `json:"claim_code,omitempty"` // only right after add
	Owner    string `json:"owner"`
	Source   string `json:"source"` // redacted
}

// deviceOutput prints devices for humans or as JSON.
type deviceOutput struct {
	cfg   config.Config
	w     io.Writer
	json  bool
	claim string // the new device's claim code, printed once
}

// pushURL is where the camera publishes: rtsps:// on rtsps_addr when TLS
// is on, so its password and video never cross the network in clear.
func (o deviceOutput) pushURL(id access.DeviceID) string {
	scheme, addr := "rtsp", o.cfg.RTSPAddr
	if o.cfg.TLSOn() {
		scheme, addr = "rtsps", o.cfg.RTSPSAddr
	}
	_, port, _ := net.SplitHostPort(addr)
	host := o.cfg.PublicHostFor(addr)
	return (&url.URL{Scheme: scheme, Host: net.JoinHostPort(host, port), Path: "/" + string(id)}).String()
}

// print writes ds. A non-empty password means one device just added or
// rotated: it is printed as one object with its password; otherwise as a
// list.
func (o deviceOutput) print(ds []store.Device, password string) error {
	rows := make([]deviceJSON, len(ds))
	for i, d := range ds {
		rows[i] = deviceJSON{ID: string(d.ID), Name: d.Name, PushURL: o.pushURL(d.ID),
			User: d.Credential.User, Password: password, Claim: o.claim, Owner: string(d.Owner), Source: redactSource(d.Source)}
	}
	if o.json {
		enc := json.NewEncoder(o.w)
		enc.SetIndent("", "  ")
		if password != "" {
			return enc.Encode(rows[0])
		}
		return enc.Encode(rows)
	}
	tw := tabwriter.NewWriter(o.w, 0, 4, 2, ' ', 0)
	if password != "" {
		r := rows[0]
		fmt.Fprintf(tw, "id\t%s\nname\t%s\npush url\t%s\nuser\t%s\npassword\t%s\n", r.ID, r.Name, r.PushURL, r.User, r.Password)
		if r.Source != "" {
			fmt.Fprintf(tw, "source\t%s\n", r.Source)
		}
		if r.Claim != "" {
			fmt.Fprintf(tw, "claim code\t%s\t(the owner claims the camera with it)\n", r.Claim)
		}
		fmt.Fprintf(tw, "\nThe password is shown only now. To get a new one: vigil device rotate %s\n", r.ID)
		return tw.Flush()
	}
	fmt.Fprintln(tw, "ID\tNAME\tOWNER\tPUSH URL\tSOURCE")
	for _, r := range rows {
		src, owner := r.Source, r.Owner
		if src == "" {
			src = "-"
		}
		if owner == "" {
			owner = "(unclaimed)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.ID, r.Name, owner, r.PushURL, src)
	}
	return tw.Flush()
}
