package main

import (
	"context"

	"github.com/graphsoar/graphsoar/internal/approval"
	"github.com/graphsoar/graphsoar/internal/broker"
	"github.com/graphsoar/graphsoar/internal/secret"
	"github.com/graphsoar/graphsoar/internal/ui"
)

// uiTokenHelp is the help of --ui-token (run and demo).
const uiTokenHelp = "token the live page at / and its API require (better: GRAPHSOAR_UI_TOKEN); " +
	"without it the page is served on a loopback --listen address only"

// livePage is what the live page shows and who may see it.
type livePage struct {
	topo      broker.Topology
	rules     ui.RuleSource
	approvals *approval.Store // nil: no approvals bucket
	token     secret.Secret
	listen    string
}

// startLivePage mounts the live page at / on sv's metrics server and keeps
// it current until ctx ends or stop is called; stop waits for it. Without a
// metrics server there is no page. Without a token the page is served on a
// loopback address only: on any other address graphsoar serves /metrics,
// /healthz and /readyz alone and logs why.
func startLivePage(ctx context.Context, sv *services, lp livePage) (stop func(), err error) {
	if sv.http == nil {
		return func() {}, nil
	}
	if lp.token == "" && !ui.LoopbackOnly(lp.listen) {
		sv.log.Warn("live page not served: --listen is not a loopback address and no --ui-token (GRAPHSOAR_UI_TOKEN) is set; "+
			"serving /metrics, /healthz and /readyz only", "listen", lp.listen)
		return func() {}, nil
	}
	o := ui.Options{JS: sv.js, AuditStream: lp.topo.AuditStream, DLQStream: lp.topo.DLQStream, Rules: lp.rules,
		Token: lp.token, Log: sv.log}
	if sv.graph != nil {
		o.Budgets = sv.graph
	}
	if lp.approvals != nil { // a nil *Store in the interface would not read as nil
		o.Approvals, o.ApprovalsBucket = lp.approvals, lp.topo.ApprovalsBucket
	}
	page, err := ui.New(o)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = page.Run(pctx)
	}()
	sv.http.Mount(page.Handler())
	sv.log.Info("serving the live page", "url", "http://"+sv.http.Addr()+"/", "token", lp.token != "")
	return func() {
		cancel()
		<-done
	}, nil
}
