package rss

import (
	"runtime"
	"testing"
)

func TestVmHWMIsReadFromTheStatusLine(t *testing.T) {
	tests := []struct {
		name   string
		status string
		want   int64
		ok     bool
	}{
		{"a status file", "Name:\tx\nVmPeak:\t  999 kB\nVmHWM:\t   123456 kB\nVmRSS:\t 1 kB\n", 123456, true},
		{"no VmHWM line", "Name:\tx\nVmRSS:\t 1 kB\n", 0, false},
		{"a garbled figure", "VmHWM:\t lots kB\n", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := vmHWM([]byte(tt.status))
			if got != tt.want || ok != tt.ok {
				t.Errorf("vmHWM = %d, %v; want %d, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestThePeakGrowsWithWhatTheProcessTouches(t *testing.T) {
	ResetPeak()
	before := PeakMB()
	if before <= 0 {
		t.Fatalf("peak %f MB", before)
	}
	buf := make([]byte, 64<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	after := PeakMB()
	runtime.KeepAlive(buf)
	if after < before+48 {
		t.Errorf("peak went from %.1f to %.1f MB after touching 64 MB", before, after)
	}
}
