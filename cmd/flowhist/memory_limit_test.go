package main

import (
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/flowhist/flowhist/domain"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestMemoryLimitOption(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		want        memoryLimit
	}{
		{"OKAuto", "auto", memoryLimit{auto: true}},
		{"OKOff", "off", memoryLimit{off: true}},
		{"OKMiB", "230MiB", memoryLimit{bytes: 230 << 20}},
		{"OKGiB", "2GiB", memoryLimit{bytes: 2 << 30}},
		{"OKBytes", "241172480", memoryLimit{bytes: 241172480}},
		{"OKBytesWithB", "67108864B", memoryLimit{bytes: 64 << 20}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := readConfigText(t, "auth:\n  disabled: true\nmemory_limit: "+tc.value+"\n")
			if err != nil {
				t.Fatal(err)
			}
			got, err := parseMemoryLimit(c.MemoryLimit)
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v, want %+v", got, err, tc.want)
			}
		})
	}
	for _, tc := range []struct{ name, value, want string }{
		{"ErrSIUnit", "200MB", `memory_limit: "200MB" is not auto, off or a size such as 200MiB`},
		{"ErrNotASize", "banana", `memory_limit: "banana" is not auto, off or a size such as 200MiB`},
		{"ErrNegative", "-1", `memory_limit: "-1" is not auto, off or a size such as 200MiB`},
		{"ErrMarkup", `"<b>1GiB</b>"`, `memory_limit: "<b>1GiB</b>" is not auto, off or a size such as 200MiB`},
		{"ErrTooSmall", "16MiB", "memory_limit: 16MiB is under 64MiB: flowhist alone resides in ~30 MiB, and a limit under what is live keeps the GC running"},
		{"ErrTooLarge", "99999999999TiB", "memory_limit: 99999999999TiB is too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readConfigText(t, "auth:\n  disabled: true\nmemory_limit: "+tc.value+"\n")
			if domain.ErrorCode(err) != domain.EINVALID || domain.ErrorMessage(err) != tc.want {
				t.Fatalf("got %v, want EINVALID %q", err, tc.want)
			}
		})
	}
	t.Run("ServeExitsNamingIt", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "flowhist.yaml")
		os.WriteFile(file, []byte("auth:\n  disabled: true\nmemory_limit: 12 apples\n"), 0o600)
		code, _, errOut := run(t, "serve", "--config", file)
		if code == 0 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.Contains(errOut, "memory_limit") {
			t.Fatalf("got exit %d, %q, want a failure in one line naming memory_limit", code, errOut)
		}
	})
}

func TestMemoryLimitResolve(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name       string
		limit      memoryLimit
		gomemlimit string
		cgroup     int64
		want       int64
	}{
		{"AutoFromTheCgroup", memoryLimit{auto: true}, "", 256 * mib, 256 * mib * 9 / 10},
		{"AutoWithoutACgroupSetsNone", memoryLimit{auto: true}, "", 0, 0},
		{"AutoKeepsGOMEMLIMIT", memoryLimit{auto: true}, "100MiB", 256 * mib, 0},
		{"ExplicitOverGOMEMLIMITAndCgroup", memoryLimit{bytes: 200 * mib}, "100MiB", 256 * mib, 200 * mib},
		{"OffRemovesAnyLimit", memoryLimit{off: true}, "100MiB", 256 * mib, math.MaxInt64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, why := tc.limit.resolve(tc.gomemlimit, tc.cgroup); got != tc.want {
				t.Fatalf("got %d (%s), want %d", got, why, tc.want)
			}
		})
	}
}

// TestCgroupMemoryLimit reads the limits of cgroup trees written under a
// temporary directory as /sys/fs/cgroup would show them.
func TestCgroupMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		name, procCgroup string
		files            map[string]string
		want             int64
	}{
		{"V2Leaf", "0::/kubepods/pod1/c1\n", map[string]string{"kubepods/pod1/c1/memory.max": "268435456\n", "kubepods/pod1/memory.max": "max\n"}, 256 << 20},
		{"V2ParentBinds", "0::/kubepods/pod1/c1\n", map[string]string{"kubepods/pod1/c1/memory.max": "max\n", "kubepods/pod1/memory.max": "536870912\n"}, 512 << 20},
		{"V2OwnNamespaceAtTheRoot", "0::/docker/abc\n", map[string]string{"memory.max": "134217728\n"}, 128 << 20},
		{"V2NoLimit", "0::/user.slice\n", map[string]string{"user.slice/memory.max": "max\n"}, 0},
		{"V1", "12:cpu,cpuacct:/x\n4:memory:/process/abc\n", map[string]string{"memory/process/abc/memory.limit_in_bytes": "268435456\n"}, 256 << 20},
		{"V1NoLimit", "4:memory:/\n", map[string]string{"memory/memory.limit_in_bytes": "9223372036854771712\n"}, 0},
		{"NoFiles", "0::/\n", nil, 0},
		{"Garbage", "0::/\n", map[string]string{"memory.max": "lots\n"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for name, text := range tc.files {
				p := filepath.Join(root, name)
				os.MkdirAll(filepath.Dir(p), 0o755)
				os.WriteFile(p, []byte(text), 0o600)
			}
			proc := filepath.Join(t.TempDir(), "cgroup")
			os.WriteFile(proc, []byte(tc.procCgroup), 0o600)
			if got := cgroupMemoryLimit(proc, root); got != tc.want {
				t.Fatalf("got %d, want %d", got, tc.want)
			}
		})
	}
	if got := cgroupMemoryLimit(filepath.Join(t.TempDir(), "absent"), t.TempDir()); got != 0 {
		t.Fatalf("without /proc/self/cgroup: got %d, want 0", got)
	}
}

// TestApplyMemoryLimit sets the runtime's limit from memory_limit, says so
// in the log, and puts the previous one back.
func TestApplyMemoryLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	core, logs := observer.New(zap.InfoLevel)
	restore := applyMemoryLimit(memoryLimit{bytes: 300 << 20}, zap.New(core))
	if got := debug.SetMemoryLimit(-1); got != 300<<20 {
		t.Errorf("got a limit of %d, want %d", got, 300<<20)
	}
	if l := logs.FilterMessage("memory limit").All(); len(l) != 1 || l[0].ContextMap()["MiB"] != "300.0" || l[0].ContextMap()["from"] != "memory_limit" {
		t.Errorf("got log %v, want memory limit MiB 300.0 from memory_limit", logs.All())
	}
	restore()
	if got := debug.SetMemoryLimit(-1); got != prev {
		t.Errorf("after restore: got %d, want %d", got, prev)
	}
}
