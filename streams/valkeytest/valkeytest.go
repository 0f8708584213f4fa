// Package valkeytest runs real valkey-server processes for tests, the way
// net/http/httptest runs real HTTP servers. Start gives a test its own server
// on a free loopback port in a temporary directory (for restart, crash and
// persistence tests); Shared gives every test in a package one server to
// share, which Main stops. It never mocks Valkey and imports only the
// standard library, so any package's tests can use it.
package valkeytest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// EnvAddr names the environment variable that points Shared at an already
// running server ("127.0.0.1:6379") instead of starting one.
const EnvAddr = "FLOWHIST_TEST_VALKEY_ADDR"

const (
	// LogFile is the server's log file inside Server.Dir.
	LogFile = "valkey.log"
	// OutFile receives the server's stdout and stderr inside Server.Dir:
	// configuration errors are printed there before the log file is open.
	OutFile = "valkey-server.out"

	startTimeout = 30 * time.Second // a loaded CI machine under -race is slow
	stopTimeout  = 30 * time.Second // SIGTERM's grace period before SIGKILL
	portAttempts = 5                // another process may take a port between our probe and the server's bind
	tailLines    = 20
)

// errPortTaken reports that another process won the race for the port.
var errPortTaken = errors.New("port taken by another process")

// Server is a running valkey-server for tests.
type Server struct {
	// Addr is "127.0.0.1:port"; it stays the same across Restart.
	Addr string
	// Dir is the server's working directory: RDB and AOF files, LogFile and
	// OutFile.
	Dir string

	bin      string
	args     []string
	password string // from --requirepass, so readiness probes can AUTH

	mu   sync.Mutex // serializes Stop, Kill and Restart
	proc *process   // nil while stopped
}

// process is one run of valkey-server; Restart makes a new one.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once cmd.Wait has returned
	err  error         // cmd.Wait's result, readable after done is closed
}

// Start runs a valkey-server of the test's own and waits until it answers
// PING. The server listens on a free 127.0.0.1 port, keeps its files in
// tb.TempDir() and by default persists nothing (--save "" --appendonly no);
// extraArgs are appended to the command line and override those defaults,
// e.g. Start(t, "--appendonly", "yes"). The server is killed when the test
// ends. If it does not start, the test fails with the last lines of its log.
func Start(tb testing.TB, extraArgs ...string) *Server {
	tb.Helper()
	bin := Binary(tb, "valkey-server")
	dir := tb.TempDir() // before Cleanup below, so the server is gone before its directory is removed
	s, err := newServer(bin, dir, extraArgs)
	if err != nil {
		tb.Fatalf("%v", err)
	}
	tb.Cleanup(s.Kill)
	return s
}

// Stop shuts the server down with SIGTERM (with AOF enabled it flushes it)
// and waits for the process to exit; after stopTimeout it kills it. Calling
// Stop on a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		s.proc.stop(syscall.SIGTERM)
		s.proc = nil
	}
}

// Kill kills the server with SIGKILL, as a crash would, and waits for the
// process to exit. Calling Kill on a stopped server does nothing.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		s.proc.stop(syscall.SIGKILL)
		s.proc = nil
	}
}

// Pause stops the server with SIGSTOP: it keeps its connections and port but
// answers nothing, as a hung or overloaded server would, until Resume.
// Calling Pause on a stopped server does nothing. The test must Resume it
// (or Kill it) before it ends.
func (s *Server) Pause() { s.signal(syscall.SIGSTOP) }

// Resume continues a paused server with SIGCONT.
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		s.proc.cmd.Process.Signal(sig)
	}
}

// Restart starts the server again on the same port, in the same directory and
// with the same arguments, and waits until it answers PING; whatever the
// server persisted (e.g. with --appendonly yes) is loaded again. A running
// server is stopped first as Stop does. If it does not start, the test fails
// with the last lines of its log.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		s.proc.stop(syscall.SIGTERM)
		s.proc = nil
	}
	if err := s.launch(); err != nil {
		tb.Fatalf("valkeytest: restart: %v", err)
	}
}

// shared is the process-wide server behind Shared, stopped by Main.
var shared struct {
	mu      sync.Mutex
	inMain  bool // Main is running the tests
	started bool
	srv     *Server
	dir     string
	err     error
}

// Shared returns the address of a valkey-server shared by every test in the
// test binary, started on first use; tests that share it must use their own
// keys (a random namespace), never FLUSHALL. If FLOWHIST_TEST_VALKEY_ADDR is
// set, Shared returns it and starts nothing. The package's TestMain must call
// Main, which stops the server. If the server cannot start, every test that
// calls Shared fails with the reason.
func Shared(tb testing.TB) string {
	tb.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.inMain {
		tb.Fatalf("valkeytest: Shared needs the package's TestMain to call valkeytest.Main, which stops the shared server: func TestMain(m *testing.M) { os.Exit(valkeytest.Main(m)) }")
	}
	if addr := os.Getenv(EnvAddr); addr != "" {
		return addr
	}
	if !shared.started {
		shared.started = true
		shared.srv, shared.dir, shared.err = startShared()
	}
	if shared.err != nil {
		tb.Fatalf("valkeytest: shared server: %v", shared.err)
	}
	return shared.srv.Addr
}

func startShared() (*Server, string, error) {
	bin, err := lookPath("valkey-server")
	if err != nil {
		return nil, "", err
	}
	dir, err := os.MkdirTemp("", "valkeytest-shared-")
	if err != nil {
		return nil, "", fmt.Errorf("valkeytest: %w", err)
	}
	s, err := newServer(bin, dir, nil)
	return s, dir, err
}

// Main runs the tests and then stops the shared server, if one was started,
// and removes its directory. It returns m.Run's exit code; use it as
//
//	func TestMain(m *testing.M) { os.Exit(valkeytest.Main(m)) }
func Main(m *testing.M) int {
	shared.mu.Lock()
	shared.inMain = true
	shared.mu.Unlock()

	code := m.Run()

	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv != nil {
		shared.srv.Stop()
	}
	if shared.dir != "" {
		_ = os.RemoveAll(shared.dir)
	}
	shared.srv, shared.dir = nil, ""
	shared.started = true
	shared.err = errors.New("stopped: Main has returned")
	return code
}

// Binary returns the path of the executable name (e.g. "valkey-server") or
// fails the test saying how to install it. It never skips: a test that needs
// Valkey and cannot get it has not passed.
func Binary(tb testing.TB, name string) string {
	tb.Helper()
	path, err := lookPath(name)
	if err != nil {
		tb.Fatalf("%v", err)
	}
	return path
}

func lookPath(name string) (string, error) {
	path, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s not found in PATH: run `make test` (it installs it) or `apt-get install -t bookworm-backports %s` on Debian 12", name, debianPackage(name))
	}
	return path, nil
}

// debianPackage names the Debian package that ships the executable name.
func debianPackage(name string) string {
	switch name {
	case "valkey-cli", "valkey-benchmark", "valkey-check-aof", "valkey-check-rdb":
		return "valkey-tools"
	}
	return name
}

// newServer starts a server on a free port, trying another port if a
// different process takes the chosen one before valkey-server binds it.
func newServer(bin, dir string, extraArgs []string) (*Server, error) {
	return newProcess(bin, dir, optionValue(extraArgs, "requirepass"), func(port int) []string {
		return serverArgs(port, dir, extraArgs)
	})
}

// newProcess starts bin with args(port) on a free port, retrying with
// another port when a different process takes the chosen one first.
func newProcess(bin, dir, password string, args func(port int) []string) (*Server, error) {
	var err error
	for range portAttempts {
		var port int
		port, err = freePort()
		if err != nil {
			return nil, err
		}
		s := &Server{
			Addr:     net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
			Dir:      dir,
			bin:      bin,
			args:     args(port),
			password: password,
		}
		if err = s.launch(); err == nil {
			return s, nil
		}
		if !errors.Is(err, errPortTaken) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("valkeytest: no free port after %d attempts: %w", portAttempts, err)
}

// StartSentinel runs a valkey-sentinel of the test's own that monitors
// primary under the name master with the given quorum, with failure
// detection in a second (down-after-milliseconds 1000) and failovers that
// give up after five. Like Start, it listens on a free loopback port, keeps
// its files (sentinel.conf, which Sentinel rewrites) in a temporary
// directory, and is killed when the test ends.
func StartSentinel(tb testing.TB, master string, primary *Server, quorum int) *Server {
	tb.Helper()
	bin := Binary(tb, "valkey-sentinel")
	dir := tb.TempDir()
	host, port, _ := net.SplitHostPort(primary.Addr)
	conf := filepath.Join(dir, "sentinel.conf")
	body := fmt.Sprintf("sentinel monitor %[1]s %[2]s %[3]s %[4]d\n"+
		"sentinel down-after-milliseconds %[1]s 1000\n"+
		"sentinel failover-timeout %[1]s 5000\n"+
		"sentinel parallel-syncs %[1]s 1\n", master, host, port, quorum)
	if primary.password != "" {
		body += fmt.Sprintf("sentinel auth-pass %s %s\n", master, primary.password)
	}
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		tb.Fatalf("valkeytest: %v", err)
	}
	s, err := newProcess(bin, dir, "", func(port int) []string {
		return []string{conf, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--protected-mode", "no",
			"--daemonize", "no", "--dir", dir, "--logfile", filepath.Join(dir, LogFile)}
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Kill)
	return s
}

// Cluster is a Valkey Cluster of real servers for tests.
type Cluster struct {
	// Primaries and Replicas as created; a failover swaps roles without
	// changing these lists.
	Primaries, Replicas []*Server
}

// Addrs returns every node's address.
func (c *Cluster) Addrs() []string {
	var out []string
	for _, s := range append(slices.Clone(c.Primaries), c.Replicas...) {
		out = append(out, s.Addr)
	}
	return out
}

// StartCluster runs a Valkey Cluster of primaries primaries, each with
// replicasEach replicas, created with valkey-cli --cluster create, and waits
// until every node says cluster_state:ok. extraArgs go to every server.
func StartCluster(tb testing.TB, primaries, replicasEach int, extraArgs ...string) *Cluster {
	tb.Helper()
	cli := Binary(tb, "valkey-cli")
	args := append([]string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000"}, extraArgs...)
	var all []*Server
	for range primaries * (1 + replicasEach) {
		all = append(all, Start(tb, args...))
	}
	create := []string{"--cluster", "create"}
	for _, s := range all {
		create = append(create, s.Addr)
	}
	create = append(create, "--cluster-replicas", strconv.Itoa(replicasEach), "--cluster-yes")
	if out, err := exec.Command(cli, create...).CombinedOutput(); err != nil {
		tb.Fatalf("valkeytest: valkey-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(startTimeout)
	for _, s := range all {
		for {
			out, _ := exec.Command(cli, "-h", "127.0.0.1", "-p", s.Addr[strings.LastIndexByte(s.Addr, ':')+1:], "CLUSTER", "INFO").Output()
			if strings.Contains(string(out), "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				tb.Fatalf("valkeytest: cluster node %s not ok within %s: %s", s.Addr, startTimeout, out)
			}
			time.Sleep(50 * time.Millisecond) // a cluster forms in its own time: nothing to wait on
		}
	}
	// valkey-cli assigns replicas in its own order: ask each node its role.
	c := &Cluster{}
	for _, s := range all {
		out, _ := exec.Command(cli, "-h", "127.0.0.1", "-p", s.Addr[strings.LastIndexByte(s.Addr, ':')+1:], "ROLE").Output()
		if strings.HasPrefix(string(out), "master") {
			c.Primaries = append(c.Primaries, s)
		} else {
			c.Replicas = append(c.Replicas, s)
		}
	}
	for _, s := range c.Replicas {
		for {
			out, _ := exec.Command(cli, "-h", "127.0.0.1", "-p", s.Addr[strings.LastIndexByte(s.Addr, ':')+1:], "INFO", "replication").Output()
			if strings.Contains(string(out), "master_link_status:up") {
				break
			}
			if time.Now().After(deadline) {
				tb.Fatalf("valkeytest: cluster replica %s not in sync within %s: %s", s.Addr, startTimeout, out)
			}
			time.Sleep(50 * time.Millisecond) // as above
		}
	}
	return c
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("valkeytest: find a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("valkeytest: find a free port: %w", err)
	}
	return port, nil
}

func serverArgs(port int, dir string, extraArgs []string) []string {
	args := []string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--protected-mode", "no",
		"--daemonize", "no",
		"--dir", dir,
		"--logfile", filepath.Join(dir, LogFile),
	}
	// save takes several values and would add to ours rather than replace it.
	if !hasOption(extraArgs, "save") {
		args = append(args, "--save", "")
	}
	if !hasOption(extraArgs, "appendonly") {
		args = append(args, "--appendonly", "no")
	}
	return append(args, extraArgs...)
}

func hasOption(args []string, name string) bool {
	for _, a := range args {
		if strings.EqualFold(a, "--"+name) {
			return true
		}
	}
	return false
}

// optionValue returns the value after the last "--name" in args.
func optionValue(args []string, name string) string {
	v := ""
	for i, a := range args {
		if strings.EqualFold(a, "--"+name) && i+1 < len(args) {
			v = args[i+1]
		}
	}
	return v
}

// launch starts valkey-server with s.args and waits until it answers PING.
// The caller holds s.mu or owns s exclusively.
func (s *Server) launch() error {
	logPath := filepath.Join(s.Dir, LogFile)
	outPath := filepath.Join(s.Dir, OutFile)
	logStart, outStart := fileSize(logPath), fileSize(outPath)

	out, err := os.OpenFile(outPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("valkeytest: %w", err)
	}
	cmd := exec.Command(s.bin, s.args...)
	cmd.Dir = s.Dir
	cmd.Stdout, cmd.Stderr = out, out
	// If the test binary dies without running its cleanups (a -timeout
	// panic, a crash), the kernel kills the server instead of leaving it
	// running forever.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err = cmd.Start()
	_ = out.Close() // the child has its own descriptor
	if err != nil {
		return fmt.Errorf("valkeytest: start %s: %w", s.bin, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() { // owned by p: stop waits for done
		p.err = cmd.Wait()
		close(p.done)
	}()

	if err := s.waitReady(p); err != nil {
		p.stop(syscall.SIGKILL)
		tail := lastLines(logPath, logStart) + lastLines(outPath, outStart)
		if errors.Is(err, errPortTaken) || strings.Contains(tail, "Address already in use") {
			return fmt.Errorf("valkeytest: %s: %w: %v", s.Addr, errPortTaken, err)
		}
		return fmt.Errorf("valkeytest: valkey-server on %s did not start: %v\n%s", s.Addr, err, tail)
	}
	s.proc = p
	return nil
}

// waitReady polls the server until it answers PING, it exits, or
// startTimeout passes.
func (s *Server) waitReady(p *process) error {
	deadline := time.Now().Add(startTimeout)
	backoff := 2 * time.Millisecond
	for {
		err := probe(s.Addr, s.password, p.cmd.Process.Pid)
		if err == nil || errors.Is(err, errPortTaken) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no PONG within %v: %w", startTimeout, err)
		}
		timer := time.NewTimer(backoff)
		select {
		case <-p.done:
			timer.Stop()
			return fmt.Errorf("valkey-server exited: %v", p.err)
		case <-timer.C:
		}
		backoff = min(2*backoff, 100*time.Millisecond)
	}
}

// stop sends sig and waits for the process to exit, killing it if SIGTERM
// has not stopped it within stopTimeout.
func (p *process) stop(sig syscall.Signal) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(sig)             // fails only if it has just exited
	_ = p.cmd.Process.Signal(syscall.SIGCONT) // a paused server must run to exit
	if sig != syscall.SIGKILL {
		timer := time.NewTimer(stopTimeout)
		defer timer.Stop()
		select {
		case <-p.done:
			return
		case <-timer.C:
			_ = p.cmd.Process.Kill()
		}
	}
	<-p.done
}

// probe checks over a plain RESP connection that the server at addr answers
// PING and is the process pid, not another one that took the port first.
func probe(addr, password string, pid int) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(2 * time.Second)); err != nil {
		return err
	}
	r := bufio.NewReader(conn)
	if password != "" {
		if reply, err := command(conn, r, "AUTH", password); err != nil {
			return err
		} else if reply != "OK" {
			return fmt.Errorf("AUTH: %s", reply)
		}
	}
	reply, err := command(conn, r, "PING")
	if err != nil {
		return err
	}
	if reply != "PONG" { // e.g. "-LOADING" while the AOF is read
		return fmt.Errorf("PING: %s", reply)
	}
	info, err := command(conn, r, "INFO", "server")
	if err != nil {
		return err
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			if v != strconv.Itoa(pid) {
				return fmt.Errorf("%w: valkey-server pid %s answers, want %d", errPortTaken, v, pid)
			}
			return nil
		}
	}
	return errors.New("INFO server: no process_id")
}

// command sends args as a RESP array and returns a simple string, error
// ("-ERR …") or bulk string reply.
func command(w io.Writer, r *bufio.Reader, args ...string) (string, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return "", err
	}
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	switch {
	case strings.HasPrefix(line, "+"):
		return line[1:], nil
	case strings.HasPrefix(line, "-"):
		return line, nil
	case strings.HasPrefix(line, "$"):
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", fmt.Errorf("unexpected reply %q", line)
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("unexpected reply %q", line)
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// lastLines returns the last lines written to path after offset, headed by
// the file's name, or "" if there are none.
func lastLines(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return ""
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) == 1 && lines[0] == "" {
		return ""
	}
	if len(lines) > tailLines {
		lines = lines[len(lines)-tailLines:]
	}
	return fmt.Sprintf("--- last lines of %s ---\n%s\n", path, strings.Join(lines, "\n"))
}
