package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/flowhist/flowhist/domain"
	"go.uber.org/zap"
)

// memory_limit is the Go runtime's soft memory limit for serve
// (debug.SetMemoryLimit): as the process nears it, the GC collects sooner
// instead of letting the heap grow to twice what is live. A waiting worker
// holds ~7 KiB (a goroutine's 4 KiB stack, ~2.5 KiB of its connection's
// and its group's state, the runtime's poller state); with the GC's
// default headroom the process grows to 11.5-13 KiB a worker through
// deploys, so a container that fits what is live can still be killed for
// the headroom. "auto", the
// default, derives the limit from the container's: 90% of the cgroup's
// memory limit (the rest for what the runtime does not count: the binary,
// the kernel's share), and sets none where there is no cgroup limit, so
// a machine nobody bounded keeps Go's defaults. The limit is soft: past it
// the runtime gives the GC at most about half the CPU rather than
// thrashing, and memory that is live is never refused.

// memoryLimitShare is the part of the cgroup's limit that "auto" gives
// the Go runtime.
const memoryLimitShare = 0.9

// minMemoryLimit is the smallest limit memory_limit takes: flowhist with
// a few workers and a 1 MB document resides in ~30 MiB, and a limit under
// what is live only makes the GC run without end.
const minMemoryLimit = 64 << 20

// memoryLimit is memory_limit read: auto, off (none), or bytes.
type memoryLimit struct {
	auto, off bool
	bytes     int64
}

var memorySize = regexp.MustCompile(`^([0-9]+)(B|KiB|MiB|GiB|TiB)?$`)

// parseMemoryLimit reads memory_limit: "auto", "off", or a size in
// GOMEMLIMIT's form (bytes, or a number with B, KiB, MiB, GiB or TiB).
//
// Errors: EINVALID, naming the option.
func parseMemoryLimit(s string) (memoryLimit, error) {
	switch s = strings.TrimSpace(s); s {
	case "auto", "":
		return memoryLimit{auto: true}, nil
	case "off":
		return memoryLimit{off: true}, nil
	}
	m := memorySize.FindStringSubmatch(s)
	if m == nil {
		return memoryLimit{}, domain.Errorf(domain.EINVALID, "memory_limit: %q is not auto, off or a size such as 200MiB", domain.Clip(s))
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	shift := map[string]uint{"": 0, "B": 0, "KiB": 10, "MiB": 20, "GiB": 30, "TiB": 40}[m[2]]
	if err != nil || n > math.MaxInt64>>shift {
		return memoryLimit{}, domain.Errorf(domain.EINVALID, "memory_limit: %s is too large", s)
	}
	if n <<= shift; n < minMemoryLimit {
		return memoryLimit{}, domain.Errorf(domain.EINVALID, "memory_limit: %s is under 64MiB: flowhist alone resides in ~30 MiB, and a limit under what is live keeps the GC running", s)
	}
	return memoryLimit{bytes: n}, nil
}

// resolve is the limit to set (0: leave the runtime as it is) and why,
// given GOMEMLIMIT from the environment and the cgroup's limit (0: none).
// An explicit memory_limit wins; "auto" leaves a GOMEMLIMIT alone.
func (m memoryLimit) resolve(gomemlimit string, cgroup int64) (int64, string) {
	switch {
	case m.off:
		return math.MaxInt64, "none (memory_limit: off)"
	case m.bytes > 0:
		return m.bytes, "memory_limit"
	case gomemlimit != "":
		return 0, "GOMEMLIMIT"
	case cgroup > 0:
		return int64(float64(cgroup) * memoryLimitShare), fmt.Sprintf("90%% of the cgroup's %d MiB (memory_limit: auto)", cgroup>>20)
	}
	return 0, "none: no cgroup memory limit (memory_limit: auto)"
}

// applyMemoryLimit sets the runtime's soft memory limit from m and says
// which in the log; the returned function puts the previous one back.
func applyMemoryLimit(m memoryLimit, log *zap.Logger) func() {
	limit, why := m.resolve(os.Getenv("GOMEMLIMIT"), cgroupMemoryLimit("/proc/self/cgroup", "/sys/fs/cgroup"))
	restore := func() {}
	if limit > 0 {
		prev := debug.SetMemoryLimit(limit)
		restore = func() { debug.SetMemoryLimit(prev) }
	}
	if now := debug.SetMemoryLimit(-1); now < math.MaxInt64 {
		log.Info("memory limit", zap.String("MiB", strconv.FormatFloat(float64(now)/(1<<20), 'f', 1, 64)), zap.String("from", why))
	} else {
		log.Info("no memory limit", zap.String("from", why))
	}
	return restore
}

// cgroupMemoryLimit is the tightest memory limit of the cgroup the process
// is in (procCgroup, /proc/self/cgroup) and of its ancestors, under root
// (/sys/fs/cgroup; cgroup v2's memory.max or v1's
// memory.limit_in_bytes), 0 for none or when it cannot be read.
func cgroupMemoryLimit(procCgroup, root string) int64 {
	text, err := os.ReadFile(procCgroup)
	if err != nil {
		return 0
	}
	var best int64
	for _, line := range strings.Split(string(text), "\n") {
		// hierarchy-ID:controllers:path; v2's is 0::path.
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		var dir, file string
		switch {
		case parts[0] == "0" && parts[1] == "":
			dir, file = root, "memory.max"
		case hasController(parts[1], "memory"):
			dir, file = filepath.Join(root, "memory"), "memory.limit_in_bytes"
		default:
			continue
		}
		// From the cgroup up to the hierarchy's root: a parent's limit
		// binds its children. In a container the path is often the host's
		// while the container sees its own cgroup at the root; the root's
		// file is read last either way.
		for p := filepath.Clean("/" + parts[2]); ; p = filepath.Dir(p) {
			if n := readCgroupLimit(filepath.Join(dir, p, file)); n > 0 && (best == 0 || n < best) {
				best = n
			}
			if p == "/" {
				break
			}
		}
	}
	return best
}

func hasController(list, name string) bool {
	for _, c := range strings.Split(list, ",") {
		if c == name {
			return true
		}
	}
	return false
}

// readCgroupLimit reads a memory limit file: 0 for "max", v1's "no
// limit" (a page-rounded MaxInt64) or a file that is not there.
func readCgroupLimit(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n <= 0 || n >= 1<<60 {
		return 0
	}
	return n
}
