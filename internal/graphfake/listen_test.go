package graphfake_test

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/graphsoar/graphsoar/internal/graphfake"
)

func TestStartStop(t *testing.T) {
	t.Parallel()
	s := graphfake.New(graphfake.Options{Open: true})
	url, stop, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(url + "/v1.0/security/incidents")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("status %d", resp.StatusCode)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := stop(ctx); err != nil {
		t.Errorf("stop: %v", err)
	}
	if err := stop(ctx); err != nil {
		t.Errorf("second stop: %v", err)
	}
	if _, err := http.Get(url + "/v1.0/security/incidents"); err == nil {
		t.Error("server still answering after stop")
	}
}

func TestStopIsBounded(t *testing.T) {
	t.Parallel()
	s := graphfake.New(graphfake.Options{Open: true, Latency: time.Hour})
	url, stop, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := http.Get(url + "/v1.0/security/incidents")
		if err == nil {
			resp.Body.Close()
		}
	}()
	// Wait until the request is in flight.
	deadline := time.Now().Add(5 * time.Second)
	for s.InFlight() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("request never reached the handler")
		}
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	began := time.Now()
	_ = stop(ctx) // context.DeadlineExceeded when the request was in flight
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("stop took %v", d)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Error("client request still hanging after stop")
	}
}

func TestListenAndServe(t *testing.T) {
	t.Parallel()
	s := graphfake.New(graphfake.Options{Open: true})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.ListenAndServe(ctx, addr) }()

	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/v1.0/security/incidents")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never served: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("ListenAndServe: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("ListenAndServe did not return after cancel")
	}
	if err := s.ListenAndServe(context.Background(), "256.0.0.1:bad"); err == nil {
		t.Error("bad address: no error")
	}
}
