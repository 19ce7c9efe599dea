package volumes

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// mountInfoPath is the kernel's table of the mounts this process sees.
const mountInfoPath = "/proc/self/mountinfo"

// mountEntry is one line of /proc/self/mountinfo (proc(5)), the fields this
// package needs.
type mountEntry struct {
	ID           string // the mount's id
	Dev          string // major:minor of the file system
	Root         string // the directory of the file system mounted here
	MountPoint   string
	Options      string // per-mount options, e.g. "rw,nosuid,nodev"
	FSType       string
	Source       string
	SuperOptions string // per-superblock options, e.g. "rw,size=8192k,mode=777"
}

// readMountInfo parses /proc/self/mountinfo, in the kernel's order (a mount
// stacked on another comes after it).
func readMountInfo() ([]mountEntry, error) {
	f, err := os.Open(mountInfoPath)
	if err != nil {
		return nil, fmt.Errorf("failed to read mount table %q: %w", mountInfoPath, err)
	}
	defer f.Close()
	var out []mountEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		e, ok := parseMountInfoLine(sc.Text())
		if ok {
			out = append(out, e)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("failed to read mount table %q: %w", mountInfoPath, err)
	}
	return out, nil
}

// parseMountInfoLine parses one line:
//
//	36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//
// Fields 1–6 are fixed, then optional fields up to "-", then fstype, source
// and super options.
func parseMountInfoLine(line string) (mountEntry, bool) {
	fields := strings.Fields(line)
	if len(fields) < 7 {
		return mountEntry{}, false
	}
	sep := -1
	for i := 6; i < len(fields); i++ {
		if fields[i] == "-" {
			sep = i
			break
		}
	}
	if sep < 0 || sep+2 >= len(fields) {
		return mountEntry{}, false
	}
	e := mountEntry{
		ID:         fields[0],
		Dev:        fields[2],
		Root:       unescapeMountInfo(fields[3]),
		MountPoint: unescapeMountInfo(fields[4]),
		Options:    fields[5],
		FSType:     fields[sep+1],
		Source:     unescapeMountInfo(fields[sep+2]),
	}
	if sep+3 < len(fields) {
		e.SuperOptions = fields[sep+3]
	}
	return e, true
}

// unescapeMountInfo undoes the kernel's octal escapes (\040 for a space,
// \011, \012, \134) in mountinfo paths.
func unescapeMountInfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// canonical returns path cleaned and, where it exists, with symlinks
// resolved, so that it compares equal to the kernel's mount points.
func canonical(path string) string {
	p := filepath.Clean(path)
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}

// IsMounted reports whether something is mounted at path itself (not merely
// under it), according to /proc/self/mountinfo.
func IsMounted(path string) (bool, error) {
	entries, err := readMountInfo()
	if err != nil {
		return false, err
	}
	p := canonical(path)
	for _, e := range entries {
		if e.MountPoint == p {
			return true, nil
		}
	}
	return false, nil
}

// mountAt returns the topmost mount at path, if any.
func mountAt(path string) (mountEntry, bool, error) {
	entries, err := readMountInfo()
	if err != nil {
		return mountEntry{}, false, err
	}
	p := canonical(path)
	for i := len(entries) - 1; i >= 0; i-- {
		if entries[i].MountPoint == p {
			return entries[i], true, nil
		}
	}
	return mountEntry{}, false, nil
}

// MountsUnder returns every mount point at root or below it, deepest first,
// so that unmounting them in order never unmounts a parent before its child.
// A path with stacked mounts appears once per mount, the newest first.
func MountsUnder(root string) ([]string, error) {
	entries, err := readMountInfo()
	if err != nil {
		return nil, err
	}
	return mountsUnder(entries, canonical(root)), nil
}

func mountsUnder(entries []mountEntry, root string) []string {
	var out []string
	// Newest first, so a stable sort by depth keeps stacked mounts newest
	// first.
	for i := len(entries) - 1; i >= 0; i-- {
		mp := entries[i].MountPoint
		if mp == root || strings.HasPrefix(mp, root+"/") || root == "/" {
			out = append(out, mp)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		return strings.Count(out[i], "/") > strings.Count(out[j], "/")
	})
	return out
}
