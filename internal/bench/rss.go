package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"
)

// peakRSS runs cmd (already configured) and returns its peak resident set
// in MB, read as VmHWM from /proc while it runs.
//
// Not the rusage of wait4: Go starts children with vfork (CLONE_VM), and
// Linux folds the parent's high-water mark into the child's ru_maxrss at
// exec, so a child of a bench process that grew to 200 MB reported 200 MB
// whatever it used itself. VmHWM belongs to the child's own address space;
// it is polled every 5 ms and only grows, so the last reading before exit
// is the peak (to within 5 ms of growth).
func peakRSS(cmd *exec.Cmd) (float64, error) {
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	var mu sync.Mutex
	var peakKB int64
	done := make(chan struct{})
	polled := make(chan struct{})
	path := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
	go func() {
		defer close(polled)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			if kb, ok := vmHWM(path); ok {
				mu.Lock()
				peakKB = max(peakKB, kb)
				mu.Unlock()
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	<-polled
	mu.Lock()
	defer mu.Unlock()
	if peakKB == 0 && err == nil {
		return 0, fmt.Errorf("no VmHWM read for pid %d (not Linux?)", cmd.Process.Pid)
	}
	return float64(peakKB) / 1024, err
}

// vmHWM reads the VmHWM line (KiB) of a /proc status file.
func vmHWM(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Bytes()
		if rest, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
			f := bytes.Fields(rest)
			if len(f) == 0 {
				return 0, false
			}
			kb, err := strconv.ParseInt(string(f[0]), 10, 64)
			return kb, err == nil
		}
	}
	return 0, false
}
