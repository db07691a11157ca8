// Package rss reads the process's peak resident set size, the figure the memory bar of docs/benchmarks.md is
// about: what the operating system had to give the process, heap, stacks and runtime overhead included (Go's
// own heap statistics miss part of that).
package rss

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// PeakMB is the peak resident set size in MiB: VmHWM from /proc/self/status (since the last ResetPeak),
// else getrusage's ru_maxrss (since the process started); 0 when neither is available.
func PeakMB() float64 {
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		if kb, ok := vmHWM(b); ok {
			return float64(kb) / 1024
		}
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		return float64(ru.Maxrss) / 1024 // kilobytes on Linux
	}
	return 0
}

// vmHWM finds "VmHWM:   123456 kB" in a /proc/PID/status text.
func vmHWM(status []byte) (int64, bool) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), "VmHWM:")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		return n, err == nil
	}
	return 0, false
}

// ResetPeak starts a new peak at the current resident set size (Linux ≥ 4.0: "5" to clear_refs), so
// PeakMB measures one phase. It reports whether the kernel took it; without it PeakMB stays the peak
// since the process started, which is only ever higher.
func ResetPeak() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}
