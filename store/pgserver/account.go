//go:build unix

package pgserver

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// clusterAccount returns the credential initdb and postgres run with, or nil
// to run them as this process. PostgreSQL refuses to run as root, so as root
// (as on CI and in containers) the cluster belongs to an unprivileged user:
// whoever already owns the data folder, else postgres, else nobody.
func clusterAccount(data string) (*syscall.Credential, string, error) {
	if os.Geteuid() != 0 {
		return nil, "", nil
	}
	if fi, err := os.Stat(data); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 {
			name := strconv.Itoa(int(st.Uid))
			if u, err := user.LookupId(name); err == nil {
				name = u.Username
			}
			return &syscall.Credential{Uid: st.Uid, Gid: st.Gid}, name, nil
		}
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, name, nil
	}
	return nil, "", errors.New("running as root, PostgreSQL needs an unprivileged user to run as, " +
		"but neither a postgres nor a nobody user exists")
}

// makeDir creates dir with mode 0700, owned by the cluster's user.
func makeDir(dir string, cred *syscall.Credential) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("restrict %s: %w", dir, err)
	}
	return chown(dir, cred)
}

func chown(path string, cred *syscall.Credential) error {
	if cred == nil {
		return nil
	}
	if err := os.Chown(path, int(cred.Uid), int(cred.Gid)); err != nil {
		return fmt.Errorf("give %s to the PostgreSQL user: %w", path, err)
	}
	return nil
}

// openAncestors lets the cluster's user reach dir: on every ancestor it
// cannot traverse, it adds the search bit for others (o+x, never read), and
// logs one line naming them. A root-owned home folder (/root is 0700) is the
// usual case.
func openAncestors(dir, userName string, cred *syscall.Credential, log *slog.Logger) error {
	if cred == nil {
		return nil
	}
	var opened []string
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("check access to %s: %w", p, err)
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && !canTraverse(fi.Mode(), st, cred) {
			if st.Uid == cred.Uid || st.Gid == cred.Gid {
				return fmt.Errorf("user %s cannot traverse %s (mode %v), which leads to %s", userName, p, fi.Mode().Perm(), dir)
			}
			if err := os.Chmod(p, fi.Mode()&(fs.ModePerm|fs.ModeSetgid|fs.ModeSetuid|fs.ModeSticky)|0o001); err != nil {
				return fmt.Errorf("let user %s traverse %s: %w", userName, p, err)
			}
			opened = append(opened, p)
		}
		if p == filepath.Dir(p) {
			break
		}
	}
	if len(opened) > 0 {
		log.Info("pgserver: added o+x (search, not read) so the PostgreSQL user can reach its folder",
			"user", userName, "dirs", strings.Join(opened, ", "), "dir", dir)
	}
	return nil
}

// canTraverse applies the owner, group, other rule for the search bit. The
// cluster's processes run without supplementary groups, so only the primary
// group counts.
func canTraverse(mode fs.FileMode, st *syscall.Stat_t, cred *syscall.Credential) bool {
	switch {
	case st.Uid == cred.Uid:
		return mode&0o100 != 0
	case st.Gid == cred.Gid:
		return mode&0o010 != 0
	default:
		return mode&0o001 != 0
	}
}
