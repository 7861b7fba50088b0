package files

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"os/user"
	"path"
	"slices"
	"strconv"
	"syscall"
)

// FileInfo is one entry of /files/browse, as Mesos renders it: mode as
// ls prints it, owner and group by name, mtime in seconds.
type FileInfo struct {
	Path  string `json:"path"`
	Nlink uint64 `json:"nlink"`
	Size  int64  `json:"size"`
	Mtime int64  `json:"mtime"`
	Mode  string `json:"mode"`
	UID   string `json:"uid"`
	GID   string `json:"gid"`
}

// browse lists a directory, sorted by path. Entries are described as
// their symlinks resolve inside the sandbox; a symlink leading out is
// listed as the link itself, so nothing outside is disclosed.
func (h *Handler) browse(w http.ResponseWriter, r *http.Request) {
	t, err := h.open(r)
	if err != nil {
		writeError(w, err)
		return
	}
	defer t.root.Close()
	st, err := t.root.Stat(t.rel)
	if err != nil {
		writeError(w, classify(t.name, err))
		return
	}
	list := []FileInfo{}
	if st.IsDir() {
		dir, err := t.root.Open(t.rel)
		if err != nil {
			writeError(w, classify(t.name, err))
			return
		}
		names, err := dir.Readdirnames(-1)
		dir.Close()
		if err != nil {
			writeError(w, classify(t.name, err))
			return
		}
		slices.Sort(names)
		own := owners{users: map[uint32]string{}, groups: map[uint32]string{}}
		for _, name := range names {
			rel := path.Join(t.rel, name)
			fi, err := t.root.Stat(rel)
			if err != nil {
				if fi, err = t.root.Lstat(rel); err != nil {
					continue // removed meanwhile
				}
			}
			list = append(list, own.info(path.Join(t.name, name), fi))
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(list)
}

// owners caches user and group names for one listing.
type owners struct {
	users, groups map[uint32]string
}

func (n owners) info(p string, fi fs.FileInfo) FileInfo {
	out := FileInfo{Path: p, Size: fi.Size(), Mtime: fi.ModTime().Unix(), Mode: Mode(fi.Mode()), Nlink: 1}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		out.Nlink = uint64(st.Nlink)
		out.UID = n.user(st.Uid)
		out.GID = n.group(st.Gid)
	}
	return out
}

func (n owners) user(id uint32) string {
	if s, ok := n.users[id]; ok {
		return s
	}
	s := strconv.FormatUint(uint64(id), 10)
	if u, err := user.LookupId(s); err == nil {
		s = u.Username
	}
	n.users[id] = s
	return s
}

func (n owners) group(id uint32) string {
	if s, ok := n.groups[id]; ok {
		return s
	}
	s := strconv.FormatUint(uint64(id), 10)
	if g, err := user.LookupGroupId(s); err == nil {
		s = g.Name
	}
	n.groups[id] = s
	return s
}

// Mode renders a file mode as Mesos does (ls's ten characters without
// setuid, setgid or sticky bits): "-rw-r--r--", "drwxr-xr-x".
func Mode(m fs.FileMode) string {
	b := []byte("----------")
	switch {
	case m.IsDir():
		b[0] = 'd'
	case m&fs.ModeSymlink != 0:
		b[0] = 'l'
	case m&fs.ModeNamedPipe != 0:
		b[0] = 'p'
	case m&fs.ModeSocket != 0:
		b[0] = 's'
	case m&fs.ModeCharDevice != 0:
		b[0] = 'c'
	case m&fs.ModeDevice != 0:
		b[0] = 'b'
	}
	const rwx = "rwxrwxrwx"
	for i := range 9 {
		if m&(1<<uint(8-i)) != 0 {
			b[1+i] = rwx[i]
		}
	}
	return string(b)
}
