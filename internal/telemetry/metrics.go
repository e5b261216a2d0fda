// Package telemetry holds graphsoar's operational surface: Prometheus
// metrics, the health and metrics HTTP endpoints, and structured logging.
package telemetry

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the worker's and producer's Prometheus collectors, on their own
// registry (no global state).
type Metrics struct {
	Registry *prometheus.Registry

	Events          *prometheus.CounterVec   // outcome
	RuleMatches     *prometheus.CounterVec   // rule
	RuleErrors      *prometheus.CounterVec   // rule
	Actions         *prometheus.CounterVec   // action, result
	GraphRequests   *prometheus.CounterVec   // op, status
	GraphLatency    *prometheus.HistogramVec // op
	GraphRetries    *prometheus.CounterVec   // op
	DeadLetters     *prometheus.CounterVec   // reason
	EventLatency    prometheus.Histogram     // publish to settled
	ConsumerPending *prometheus.GaugeVec     // partition
	AckPending      *prometheus.GaugeVec     // partition
	Partitions      prometheus.Gauge
	InFlight        prometheus.Gauge
	RuleReloads     *prometheus.CounterVec // result
	RulesLoaded     prometheus.Gauge
	BudgetExceeded  prometheus.Counter
	ConsumeRestarts *prometheus.CounterVec // partition
	AuditFailures   prometheus.Counter

	PollIncidents *prometheus.CounterVec   // tenant
	PollPublished *prometheus.CounterVec   // tenant
	PollErrors    *prometheus.CounterVec   // tenant
	PollDuration  *prometheus.HistogramVec // tenant
	PollWatermark *prometheus.GaugeVec     // tenant
}

// ObserveRules records a rules load: whether it succeeded and the number
// of rules active after it (rules.NewReloader's observer).
func (m *Metrics) ObserveRules(ok bool, rules int) {
	result := "ok"
	if !ok {
		result = "failed"
	}
	m.RuleReloads.WithLabelValues(result).Inc()
	m.RulesLoaded.Set(float64(rules))
}

// NewMetrics creates and registers the collectors, with Go and process
// collectors.
func NewMetrics() *Metrics {
	r := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { r.MustRegister(c) }
	latency := []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	m := &Metrics{
		Registry: r,
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "graphsoar_events_total",
			Help: "Incident events settled, by outcome (acked, skipped_stale, retried, dead_lettered, dry_run)."}, []string{"outcome"}),
		RuleMatches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "graphsoar_rule_matches_total",
			Help: "Events a rule matched."}, []string{"rule"}),
		RuleErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "graphsoar_rule_errors_total",
			Help: "Run-time errors of a rule."}, []string{"rule"}),
		Actions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "graphsoar_actions_total",
			Help: "Planned actions by result (applied, unchanged, duplicate, failed, dry_run, skipped)."}, []string{"action", "result"}),
		GraphRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "graphsoar_graph_requests_total",
			Help: "Graph HTTP attempts by operation and status (0: no response)."}, []string{"op", "status"}),
		GraphLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "graphsoar_graph_request_seconds",
			Help: "Graph request latency by operation.", Buckets: latency}, []string{"op"}),
		GraphRetries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "graphsoar_graph_retries_total",
			Help: "Graph attempts that were retries."}, []string{"op"}),
		DeadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "graphsoar_dead_letters_total",
			Help: "Events sent to the dead-letter subject, by reason."}, []string{"reason"}),
		EventLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "graphsoar_event_seconds",
			Help: "Time from an event's publication to its settlement.", Buckets: latency}),
		ConsumerPending: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "graphsoar_consumer_pending",
			Help: "Events not yet delivered (consumer lag), by partition."}, []string{"partition"}),
		AckPending: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "graphsoar_consumer_ack_pending",
			Help: "Events delivered and not yet settled, by partition."}, []string{"partition"}),
		Partitions: prometheus.NewGauge(prometheus.GaugeOpts{Name: "graphsoar_partitions_owned",
			Help: "Partitions this replica consumes."}),
		InFlight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "graphsoar_events_in_flight",
			Help: "Events being handled now."}),
		RuleReloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "graphsoar_rule_reloads_total",
			Help: "Rule reloads by result (ok, failed)."}, []string{"result"}),
		RulesLoaded: prometheus.NewGauge(prometheus.GaugeOpts{Name: "graphsoar_rules_loaded",
			Help: "Rules in the active rule set."}),
		BudgetExceeded: prometheus.NewCounter(prometheus.CounterOpts{Name: "graphsoar_action_budget_exceeded_total",
			Help: "Events stopped by the per-incident action budget."}),
		AuditFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "graphsoar_audit_failures_total",
			Help: "Handlings whose audit records JetStream did not acknowledge (the event is tried again)."}),
		ConsumeRestarts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "graphsoar_consume_restarts_total",
			Help: "Times a partition's consumption broke (consumer deleted, NATS restarted) and was recovered."}, []string{"partition"}),
		PollIncidents: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "graphsoar_poll_incidents_total",
			Help: "Changed incidents the producer saw."}, []string{"tenant"}),
		PollPublished: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "graphsoar_poll_events_published_total",
			Help: "Events the producer published (JetStream acknowledged)."}, []string{"tenant"}),
		PollErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "graphsoar_poll_errors_total",
			Help: "Failed polling passes."}, []string{"tenant"}),
		PollDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "graphsoar_poll_seconds",
			Help: "Duration of a polling pass.", Buckets: latency}, []string{"tenant"}),
		PollWatermark: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "graphsoar_poll_watermark_seconds",
			Help: "The producer's watermark (Unix time)."}, []string{"tenant"}),
	}
	for _, c := range []prometheus.Collector{m.Events, m.RuleMatches, m.RuleErrors, m.Actions, m.GraphRequests, m.GraphLatency,
		m.GraphRetries, m.DeadLetters, m.EventLatency, m.ConsumerPending, m.AckPending, m.Partitions, m.InFlight, m.RuleReloads,
		m.RulesLoaded, m.BudgetExceeded, m.ConsumeRestarts, m.AuditFailures, m.PollIncidents, m.PollPublished, m.PollErrors, m.PollDuration, m.PollWatermark,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		f(c)
	}
	return m
}
