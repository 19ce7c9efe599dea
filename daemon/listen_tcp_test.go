package daemon

import (
	"io"
	"net/http"
	"testing"
)

func TestCheckLoopback(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:8080", true},
		{"127.0.0.2:1", true},
		{"[::1]:8080", true},
		{"0.0.0.0:8080", false},
		{":8080", false},
		{"localhost:8080", false},
		{"10.0.0.1:8080", false},
		{"[::]:8080", false},
		{"127.0.0.1", false},
		{"", false},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			if err := checkLoopback(tc.addr); (err == nil) != tc.ok {
				t.Fatalf("checkLoopback(%q) = %v, want ok=%v", tc.addr, err, tc.ok)
			}
		})
	}
}

func TestMultiListener(t *testing.T) {
	a, err := ListenTCP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b, err := ListenTCP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := newMultiListener(a, b)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
	go srv.Serve(m)
	defer srv.Close()
	for _, l := range []string{a.Addr().String(), b.Addr().String()} {
		resp, err := http.Get("http://" + l + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "ok" {
			t.Fatalf("%s answered %q", l, body)
		}
	}
}
