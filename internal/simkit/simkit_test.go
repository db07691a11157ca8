package simkit

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestFaultsAreTakenInOrderAndSetReplacesTheQueue(t *testing.T) {
	var q Faults
	q.Add(2, Fault{Status: 503})
	q.Add(1, Fault{Status: 429})
	var got []int
	for f, ok := q.Next(); ok; f, ok = q.Next() {
		got = append(got, f.Status)
	}
	if len(got) != 3 || got[0] != 503 || got[1] != 503 || got[2] != 429 {
		t.Errorf("took %v, want [503 503 429]", got)
	}
	q.Add(5, Fault{Status: 500})
	q.Set(1, Fault{Drop: true})
	if f, ok := q.Next(); !ok || !f.Drop {
		t.Errorf("after Set: %+v %v, want the drop", f, ok)
	}
	if f, ok := q.Next(); ok {
		t.Errorf("Set kept an earlier fault: %+v", f)
	}
}

func TestBucketAnswersHowLongUntilATokenIsBack(t *testing.T) {
	var b Bucket
	now := time.Unix(1000, 0)
	if tk := b.Take(now); !tk.OK || tk.Limited {
		t.Fatalf("zero bucket: %+v, want unlimited", tk)
	}
	b.Set(2, 2) // two tokens, one back every 500 ms
	for i := range 2 {
		if tk := b.Take(now); !tk.OK || tk.Remaining != 1-i || tk.Burst != 2 {
			t.Fatalf("take %d: %+v", i, tk)
		}
	}
	tk := b.Take(now)
	if tk.OK || tk.Wait != 500*time.Millisecond {
		t.Fatalf("empty bucket: %+v, want a 500ms wait", tk)
	}
	if s := RetryAfterSeconds(tk.Wait); s != 1 {
		t.Errorf("Retry-After for 500ms: %d, want 1", s)
	}
	if s := RetryAfterSeconds(2*time.Second + time.Nanosecond); s != 3 {
		t.Errorf("Retry-After for 2s+1ns: %d, want 3", s)
	}
	if tk := b.Take(now.Add(500 * time.Millisecond)); !tk.OK {
		t.Errorf("a token should be back after the wait: %+v", tk)
	}
	b.Set(0, 0)
	if tk := b.Take(now); !tk.OK || tk.Limited {
		t.Errorf("after Set(0): %+v, want unlimited", tk)
	}
}

func TestLogUpdatesOnlyRequestsItStillHolds(t *testing.T) {
	var l Log[Request]
	i := l.Add(Request{Method: "GET"})
	l.Update(i, func(r *Request) { r.Status = 200 })
	if all := l.All(); len(all) != 1 || all[0].Status != 200 {
		t.Fatalf("log %+v", all)
	}
	j := l.Add(Request{Method: "PUT"})
	l.Reset()
	l.Update(j, func(r *Request) { r.Status = 500 }) // answered after the reset: nothing to update
	if n := l.Count(func(Request) bool { return true }); n != 0 {
		t.Errorf("%d requests after Reset", n)
	}
}

func TestStatusWriterRecordsTheFirstStatus(t *testing.T) {
	w := NewStatusWriter(httptest.NewRecorder())
	if w.Status() != 0 || w.Answered() != http.StatusOK {
		t.Errorf("nothing written: %d/%d, want 0/200", w.Status(), w.Answered())
	}
	w.WriteHeader(http.StatusTooManyRequests)
	w.WriteHeader(http.StatusOK)
	if w.Status() != http.StatusTooManyRequests {
		t.Errorf("status %d, want 429", w.Status())
	}
	b := NewStatusWriter(httptest.NewRecorder())
	_, _ = b.Write([]byte("{}"))
	if b.Status() != http.StatusOK {
		t.Errorf("body without status: %d, want 200", b.Status())
	}
}

func TestLatencyWaitEndsWithTheClient(t *testing.T) {
	var l Latency
	if !l.Wait(context.Background()) {
		t.Error("no latency: Wait should not fail")
	}
	l.Set(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if l.Wait(ctx) {
		t.Error("Wait outlived a cancelled client")
	}
}

func TestListenServesOnLoopback(t *testing.T) {
	base, stop, err := Listen(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	resp, _ := DoJSON(t, NewJSONRequest(t, http.MethodGet, base+"/x", nil))
	if resp.StatusCode != http.StatusTeapot || base[:17] != "http://127.0.0.1:" {
		t.Errorf("%s answered %d", base, resp.StatusCode)
	}
}
