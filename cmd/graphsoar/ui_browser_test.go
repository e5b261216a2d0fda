package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/nats-io/nats.go"

	"github.com/graphsoar/graphsoar/internal/broker"
	"github.com/graphsoar/graphsoar/internal/consume"
)

// chromeBinary finds Chromium: GRAPHSOAR_CHROME, else chromium,
// chromium-browser, google-chrome or google-chrome-stable on the PATH. Without one the test is
// skipped, except in CI (CI=true), where it fails: CI installs Chromium
// (.ci/run), so a missing browser is a broken CI, not a reason to pass.
func chromeBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("GRAPHSOAR_CHROME"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("GRAPHSOAR_CHROME=%s: %v", p, err)
		}
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const none = "no Chromium found (chromium, chromium-browser, google-chrome, google-chrome-stable or GRAPHSOAR_CHROME)"
	if os.Getenv("CI") == "true" {
		t.Fatal(none + ": CI must install it (.ci/run)")
	}
	t.Skip(none)
	return ""
}

// browser starts headless Chromium and returns its tab's context; every
// step then runs under its own deadline (the start may not have one: its
// context's end would stop the browser).
func browser(t *testing.T, chrome string) context.Context {
	t.Helper()
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(chrome), chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox) // CI containers run as root, where Chromium's sandbox refuses to start
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", chrome, err)
	}
	return ctx
}

// step runs browser actions within d.
func step(t *testing.T, ctx context.Context, d time.Duration, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// read runs a browser action that returns a value, within d.
func read[T any](t *testing.T, ctx context.Context, d time.Duration, what string, action chromedp.Action[T]) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	v, err := chromedp.Run(sctx, action)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// emulatorIncident reads an incident from the demo's Graph emulator.
func emulatorIncident(t *testing.T, graphAddr, id string) map[string]any {
	t.Helper()
	resp, err := http.Get("http://" + graphAddr + "/v1.0/security/incidents/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var inc map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&inc); err != nil {
		t.Fatalf("incident %s: %v", id, err)
	}
	return inc
}

// TestLivePageInBrowser runs the demo with its live page, opens the page in
// headless Chromium and uses it as an operator would: the events appear,
// Replay republishes the dead letter (and the worker handles it), Approve
// releases the held action (and the worker carries it out).
func TestLivePageInBrowser(t *testing.T) {
	t.Parallel()
	chrome := chromeBinary(t)
	const token = "browser-test-token-2f9c"
	natsAddr, graphAddr, pageAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	stop, out, errb := runInBackground(t, nil, "demo", "--serve", "--nats-listen", natsAddr, "--graph-listen", graphAddr,
		"--listen", pageAddr, "--ui-token", token)
	waitUntil(t, 120*time.Second, "the demo's scripted part", func() bool {
		return strings.Contains(out.String(), "Still running (--serve)")
	})
	if !strings.Contains(out.String(), "Live page: http://"+pageAddr+"/?token=<your --ui-token>") {
		t.Errorf("the demo does not tell where its live page is:\n%s", out.String())
	}
	nc, err := nats.Connect("nats://" + natsAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	replays := make(chan *nats.Msg, 16)
	sub, err := nc.ChanSubscribe("security.incidents.*."+demoLateIncident, replays)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	ctx := browser(t, chrome)
	const (
		firstEvent = `#events .event[data-event="b6f7c0de-0001"]`
		deadLetter = `#dead-letters tr.dead-letter[data-event="demo-late-4214"]`
		held       = `#approvals tr.approval[data-incident="4211"]`
	)
	step(t, ctx, 30*time.Second, "the events appear",
		chromedp.Navigate("http://"+pageAddr+"/?token="+token),
		chromedp.WaitVisible(chromedp.CSS(firstEvent)),
		chromedp.WaitVisible(chromedp.CSS(`#status[data-state="live"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#rules tr.rule[data-rule="block-known-ransomware"]`)))
	firstRules := read(t, ctx, 10*time.Second, "the first event's rules", chromedp.Text(chromedp.CSS(firstEvent+" .head")))
	for _, rule := range []string{"block-known-ransomware", "escalate-ransomware", "isolate-ransomware-host"} {
		if !strings.Contains(firstRules, rule) {
			t.Errorf("the first event does not show rule %s: %q", rule, firstRules)
		}
	}

	// Replay the dead letter: it is published again to its producer's
	// subject, and the worker, now able to read the incident, closes it.
	step(t, ctx, 30*time.Second, "the dead letter appears", chromedp.WaitVisible(chromedp.CSS(deadLetter+" button.replay")))
	seq := read(t, ctx, 10*time.Second, "the dead letter's sequence", chromedp.AttributeValue(chromedp.CSS(deadLetter), "data-seq"))
	if !seq.Exists || seq.Value == "" {
		t.Fatal("the dead letter's row has no sequence")
	}
	step(t, ctx, 30*time.Second, "replay the dead letter",
		chromedp.Click(chromedp.CSS(deadLetter+" button.replay")),
		chromedp.WaitVisible(chromedp.CSS(`#notice[data-kind="ok"]`)))
	want := broker.DefaultTopology().DLQStream + ":" + seq.Value
	select {
	case m := <-replays:
		if got := m.Header.Get(consume.HeaderReplayOf); got != want {
			t.Errorf("republished with %s %q, want %q", consume.HeaderReplayOf, got, want)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the dead letter was not republished to its producer's subject")
	}
	waitUntil(t, 30*time.Second, "the replayed event handled: incident "+demoLateIncident+" resolved", func() bool {
		return emulatorIncident(t, graphAddr, demoLateIncident)["status"] == "resolved"
	})
	step(t, ctx, 30*time.Second, "the replayed event on the page",
		chromedp.WaitVisible(chromedp.CSS(`#events .event[data-event="demo-late-4214"] .chip.rule`)),
		chromedp.WaitNotPresent(chromedp.CSS(deadLetter)))

	// Approve the held action: the worker carries it out (the tag).
	if tags := fmt.Sprint(emulatorIncident(t, graphAddr, "4211")["customTags"]); strings.Contains(tags, "isolate-device") {
		t.Fatalf("the held action was carried out before its approval: tags %s", tags)
	}
	step(t, ctx, 30*time.Second, "approve the held action",
		chromedp.WaitVisible(chromedp.CSS(held+`[data-status="pending"] button.approve`)),
		chromedp.SetValue(chromedp.CSS(`#by`), "soc-lead"),
		chromedp.Click(chromedp.CSS(held+`[data-status="pending"] button.approve`)),
		chromedp.WaitVisible(chromedp.CSS(held+`[data-status="approved"]`)))
	waitUntil(t, 30*time.Second, "the approved tag on incident 4211", func() bool {
		return strings.Contains(fmt.Sprint(emulatorIncident(t, graphAddr, "4211")["customTags"]), "isolate-device")
	})
	step(t, ctx, 30*time.Second, "the approved action's outcome on the page",
		chromedp.WaitVisible(chromedp.CSS(`#events tr[data-approval][data-action="tag"][data-result="applied"]`)),
		chromedp.WaitVisible(chromedp.CSS(held+`[data-status="approved"] td.status`)))
	status := read(t, ctx, 10*time.Second, "the decision", chromedp.Text(chromedp.CSS(held+` td.status`)))
	if !strings.Contains(status, "soc-lead") {
		t.Errorf("the decision does not name who approved: %q", status)
	}

	if err := stop(); err != nil {
		t.Errorf("stop: %v\n%s", err, errb.String())
	}
	if strings.Contains(errb.String(), token) || strings.Contains(out.String(), token) {
		t.Error("the token is in the demo's output or logs")
	}
}
