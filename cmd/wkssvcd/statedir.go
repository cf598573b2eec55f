package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// stateFile is a file the daemon keeps; secret files must not be readable
// by others either.
type stateFile struct {
	path   string
	secret bool
}

// checkStateTrust refuses to start when someone other than the daemon's
// user (or root) could change what the daemon trusts: the state
// directory, the administrator credential, the membership and computer
// name files, the keytab, or a directory above them. A local user who can
// replace admin-credential can log on as administrator; one who can write
// the membership file decides which domain the host belongs to. Each
// error names the path, what is wrong and the command that fixes it.
func checkStateTrust(cfg *config) error {
	uid := os.Geteuid()
	dir, err := filepath.Abs(cfg.StateDir)
	if err != nil {
		return err
	}
	if err := checkPath(dir, true, false, uid); err != nil {
		return err
	}
	if err := checkAncestors(dir, uid); err != nil {
		return err
	}
	files := []stateFile{
		{filepath.Join(dir, adminCredentialFile), true},
		{filepath.Join(dir, membershipFile), false},
		{filepath.Join(dir, namesFile), false},
	}
	kt, err := filepath.Abs(cfg.Keytab)
	if err != nil {
		return err
	}
	files = append(files, stateFile{kt, true})
	if filepath.Dir(kt) != dir {
		if err := checkAncestors(kt, uid); err != nil {
			return err
		}
	}
	for _, f := range files {
		if err := checkPath(f.path, false, f.secret, uid); err != nil {
			return err
		}
	}
	return nil
}

// checkPath checks one existing path (a missing one is fine: the daemon
// creates it itself, mode 0600 or 0700).
func checkPath(path string, isDir, secret bool, uid int) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		if !isDir && !secret {
			return fmt.Errorf("%s is a symbolic link; the daemon keeps it as a regular file: remove the link", path)
		}
		// A state directory or keytab reached through a link (systemd's
		// DynamicUser does that) is judged by its target and by the
		// directories above the target.
		if fi, err = os.Stat(path); err != nil {
			return err
		}
		target, err := filepath.EvalSymlinks(path)
		if err != nil {
			return err
		}
		if err := checkAncestors(target, uid); err != nil {
			return err
		}
	}
	switch {
	case isDir && !fi.IsDir():
		return fmt.Errorf("state directory %s is not a directory", path)
	case !isDir && !fi.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file", path)
	}
	if owner, ok := fileOwner(fi); ok && owner != uid && owner != 0 {
		return fmt.Errorf("%s belongs to %s, not to %s that runs wkssvcd, so that user can change it: check its content, then run: chown %s %s",
			path, userName(owner), userName(uid), userName(uid), path)
	}
	if m := fi.Mode().Perm(); m&0o022 != 0 {
		return fmt.Errorf("%s has mode %04o: group or other users can change it; run: chmod go-w %s", path, m, path)
	}
	if m := fi.Mode().Perm(); secret && m&0o004 != 0 {
		return fmt.Errorf("%s has mode %04o: every user of this host can read the secret in it; run: chmod o-rwx %s (and consider the secret known)", path, m, path)
	}
	return nil
}

// checkAncestors checks the directories above path: none may be writable
// by group or other users (which lets them rename what is below) unless
// its sticky bit forbids that, as on /tmp, and each belongs to root or to
// the daemon's user.
func checkAncestors(path string, uid int) error {
	for d := filepath.Dir(path); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if owner, ok := fileOwner(fi); ok && owner != uid && owner != 0 {
			return fmt.Errorf("directory %s above %s belongs to %s, who can replace what is below it: chown it to root or %s, or choose another --state-dir or --keytab",
				d, path, userName(owner), userName(uid))
		}
		if m := fi.Mode(); m.Perm()&0o022 != 0 && m&fs.ModeSticky == 0 {
			return fmt.Errorf("directory %s above %s has mode %04o: group or other users can replace what is below it; run: chmod go-w %s, or choose another --state-dir or --keytab",
				d, path, m.Perm(), d)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

func fileOwner(fi fs.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}

func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return "uid " + strconv.Itoa(uid)
}
