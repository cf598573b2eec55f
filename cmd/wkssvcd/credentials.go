package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/wkssvcd/wkssvcd/internal/atomicfile"
)

const adminCredentialFile = "admin-credential"

// adminSource says where the administrator credential came from, for the
// start-up message. It never holds the password.
type adminSource struct {
	User string
	From string
}

// resolveAdmins makes sure there is at least one administrator: the
// --admin flags, else $WKSSVCD_ADMIN, else the credential saved in the
// state directory by an earlier start, else a new generated one saved
// there (mode 0600).
func resolveAdmins(cfg *config, getenv func(string) string) ([]adminSource, error) {
	if len(cfg.Admins) > 0 {
		var out []adminSource
		for _, a := range cfg.Admins {
			out = append(out, adminSource{User: a.User, From: "--admin"})
		}
		return out, nil
	}
	if v := getenv("WKSSVCD_ADMIN"); v != "" {
		cr, err := parseCredential(v)
		if err != nil {
			return nil, fmt.Errorf("$WKSSVCD_ADMIN: %w", err)
		}
		cfg.Admins = append(cfg.Admins, cr)
		return []adminSource{{User: cr.User, From: "$WKSSVCD_ADMIN"}}, nil
	}
	path := filepath.Join(cfg.StateDir, adminCredentialFile)
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		cr, err := parseCredential(strings.TrimSpace(string(data)))
		if err != nil {
			return nil, fmt.Errorf("%s: %w (remove the file to generate a new credential)", path, err)
		}
		cfg.Admins = append(cfg.Admins, cr)
		return []adminSource{{User: cr.User, From: path}}, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	pw, err := generatePassword(24)
	if err != nil {
		return nil, err
	}
	cr := credential{User: "admin", Password: pw}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if err := atomicfile.Write(path, []byte(cr.User+":"+cr.Password+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("saving the generated administrator credential: %w", err)
	}
	cfg.Admins = append(cfg.Admins, cr)
	return []adminSource{{User: cr.User, From: path + " (generated)"}}, nil
}
