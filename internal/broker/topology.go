package broker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Topology names the streams, consumers and buckets graphsoar uses.
//
// Partitioning: when Partitions > 1 and Subject has the form "PREFIX.>", the
// incident stream maps every "PREFIX.<tenant>.<incident>" subject to
// "<PartitionPrefix>.<p>.<tenant>.<incident>", where p is a hash of the
// tenant (a stream subject transform, so the server computes it). Each
// partition has its own durable pull consumer, owned by one worker replica at
// a time: all events of one tenant go through one consumer, so one replica at
// a time writes for a tenant (its in-process rate limiter is the tenant's
// whole budget) and an incident's events stay in order. Messages on other
// subjects under PREFIX keep their subject and are consumed by an extra
// consumer, so none is left behind.
type Topology struct {
	Stream          string        // INCIDENTS
	Subject         string        // security.incidents.>
	Partitions      int           // 16
	PartitionPrefix string        // graphsoar.incidents
	Consumer        string        // durable name prefix: graphsoar
	DuplicateWindow time.Duration // for Nats-Msg-Id deduplication
	MaxAge          time.Duration // 0 keeps events until limits are hit
	Replicas        int           // stream replicas in a cluster
	AckWait         time.Duration
	// MaxDeliver bounds the deliveries of one event that never reached a
	// verdict (crash loops, ack timeouts) before the worker dead-letters it;
	// the consumer itself has no limit, and retries are bounded in time.
	MaxDeliver    int
	MaxAckPending int // per partition consumer

	DLQStream   string // GRAPHSOAR_DLQ over graphsoar.dlq.>
	AuditStream string // GRAPHSOAR_AUDIT over graphsoar.audit.>
	AuditMaxAge time.Duration
	DLQMaxAge   time.Duration

	StateBucket   string        // per-incident state
	StateTTL      time.Duration // 0: forever
	EffectsBucket string        // idempotency records of non-idempotent writes
	EffectsTTL    time.Duration
	CoordBucket   string // partition leases and member heartbeats
	LeaseTTL      time.Duration
	// ApprovalsBucket holds the actions waiting for approval and the
	// decisions about them, kept ApprovalsTTL.
	ApprovalsBucket string
	ApprovalsTTL    time.Duration
}

// DefaultTopology returns graphsoar's defaults.
func DefaultTopology() Topology {
	return Topology{
		Stream: "INCIDENTS", Subject: "security.incidents.>", Partitions: 8,
		PartitionPrefix: "graphsoar.incidents", Consumer: "graphsoar",
		DuplicateWindow: 2 * time.Minute, MaxAge: 7 * 24 * time.Hour, Replicas: 1,
		AckWait: 10 * time.Second, MaxDeliver: 100, MaxAckPending: 1000,
		DLQStream: "GRAPHSOAR_DLQ", AuditStream: "GRAPHSOAR_AUDIT",
		AuditMaxAge: 7 * 24 * time.Hour, DLQMaxAge: 30 * 24 * time.Hour,
		StateBucket: "graphsoar-state", StateTTL: 90 * 24 * time.Hour,
		EffectsBucket: "graphsoar-effects", EffectsTTL: 365 * 24 * time.Hour,
		CoordBucket: "graphsoar-coord", LeaseTTL: 6 * time.Second,
		ApprovalsBucket: "graphsoar-approvals", ApprovalsTTL: 30 * 24 * time.Hour,
	}
}

// Validate checks the topology.
func (t Topology) Validate() error {
	switch {
	case t.Stream == "", t.Subject == "", t.Consumer == "":
		return errors.New("stream, subject and consumer must be set")
	case t.Partitions < 1 || t.Partitions > 1024:
		return fmt.Errorf("partitions %d: want 1 to 1024", t.Partitions)
	case t.MaxDeliver < 2:
		return errors.New("maxDeliver must be at least 2")
	case t.AckWait < time.Second:
		return errors.New("ackWait must be at least 1s")
	case t.LeaseTTL < 3*time.Second:
		return errors.New("the lease TTL must be at least 3s")
	}
	return nil
}

// partitioned reports whether the stream maps subjects to partitions, and the
// subject prefix ("security.incidents").
func (t Topology) partitioned() (string, bool) {
	prefix, ok := strings.CutSuffix(t.Subject, ".>")
	return prefix, ok && t.Partitions > 1 && !strings.ContainsAny(prefix, "*>")
}

// PartitionIDs lists the consumption units: "0".."P-1" and "other" when
// partitioned, else just "all".
func (t Topology) PartitionIDs() []string {
	if _, ok := t.partitioned(); !ok {
		return []string{"all"}
	}
	ids := make([]string, 0, t.Partitions+1)
	for k := range t.Partitions {
		ids = append(ids, fmt.Sprint(k))
	}
	return append(ids, "other")
}

// ConsumerName is the durable consumer of a partition.
func (t Topology) ConsumerName(partition string) string {
	if partition == "all" {
		return t.Consumer
	}
	return t.Consumer + "-" + partition
}

// FilterSubject is the filter of a partition's consumer.
func (t Topology) FilterSubject(partition string) string {
	switch partition {
	case "all", "other":
		return t.Subject
	}
	return t.PartitionPrefix + "." + partition + ".>"
}

// StreamConfig is the incident stream.
func (t Topology) StreamConfig() jetstream.StreamConfig {
	cfg := jetstream.StreamConfig{
		Name:        t.Stream,
		Description: "Microsoft Defender XDR incident change events (graphsoar)",
		Subjects:    []string{t.Subject},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Duplicates:  t.DuplicateWindow,
		MaxAge:      t.MaxAge,
		Replicas:    max(t.Replicas, 1),
		AllowDirect: true,
	}
	if prefix, ok := t.partitioned(); ok {
		cfg.SubjectTransform = &jetstream.SubjectTransformConfig{
			Source:      prefix + ".*.*",
			Destination: fmt.Sprintf("%s.{{partition(%d,1)}}.{{wildcard(1)}}.{{wildcard(2)}}", t.PartitionPrefix, t.Partitions),
		}
	}
	return cfg
}

// ConsumerConfig is the durable pull consumer of a partition.
func (t Topology) ConsumerConfig(partition string) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       t.ConsumerName(partition),
		Description:   "graphsoar worker, partition " + partition,
		FilterSubject: t.FilterSubject(partition),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       t.AckWait,
		// No limit in JetStream: at its limit JetStream drops an event
		// silently. The worker counts deliveries itself (t.MaxDeliver) and
		// dead-letters the event instead.
		MaxDeliver:    -1,
		MaxAckPending: t.MaxAckPending,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		Replicas:      max(t.Replicas, 1),
	}
}

// ErrTopologyMismatch: the stream exists but does not fit the topology, and
// graphsoar may not change it. Trying again does not help.
var ErrTopologyMismatch = errors.New("topology mismatch")

// EnsureStream creates the incident stream, or updates it to this topology,
// when create is set; otherwise it checks that the stream exists and covers
// the subject (and partitions, when partitioned).
func EnsureStream(ctx context.Context, js jetstream.JetStream, t Topology, create bool) error {
	want := t.StreamConfig()
	if create {
		if _, err := js.CreateOrUpdateStream(ctx, want); err != nil {
			return fmt.Errorf("stream %s: %w", t.Stream, err)
		}
		return nil
	}
	s, err := js.Stream(ctx, t.Stream)
	if err != nil {
		return fmt.Errorf("stream %s: %w (start with stream creation on, or create it as docs/OPERATIONS.md shows)", t.Stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return fmt.Errorf("stream %s: %w", t.Stream, err)
	}
	if want.SubjectTransform != nil && (info.Config.SubjectTransform == nil || *info.Config.SubjectTransform != *want.SubjectTransform) {
		return fmt.Errorf("stream %s has no subject transform %s -> %s: the worker cannot partition it (use partitions 1, or let it update the stream): %w",
			t.Stream, want.SubjectTransform.Source, want.SubjectTransform.Destination, ErrTopologyMismatch)
	}
	return nil
}

// EnsureConsumers creates or updates the partition consumers (create), or
// checks that they exist.
func EnsureConsumers(ctx context.Context, js jetstream.JetStream, t Topology, create bool) error {
	for _, p := range t.PartitionIDs() {
		cfg := t.ConsumerConfig(p)
		var err error
		if create {
			_, err = js.CreateOrUpdateConsumer(ctx, t.Stream, cfg)
		} else {
			_, err = js.Consumer(ctx, t.Stream, cfg.Durable)
		}
		if err != nil {
			return fmt.Errorf("consumer %s: %w", cfg.Durable, err)
		}
	}
	return nil
}

// EnsureSideStreams creates the DLQ and audit streams when missing.
func EnsureSideStreams(ctx context.Context, js jetstream.JetStream, t Topology) error {
	for _, c := range []jetstream.StreamConfig{
		{Name: t.DLQStream, Description: "graphsoar dead letters: events that could not be handled, with the reason",
			Subjects: []string{"graphsoar.dlq.>"}, MaxAge: t.DLQMaxAge, Replicas: max(t.Replicas, 1)},
		{Name: t.AuditStream, Description: "graphsoar audit events: every action outcome",
			Subjects: []string{"graphsoar.audit.>"}, MaxAge: t.AuditMaxAge, Replicas: max(t.Replicas, 1)},
	} {
		if _, err := js.CreateOrUpdateStream(ctx, c); err != nil {
			return fmt.Errorf("stream %s: %w", c.Name, err)
		}
	}
	return nil
}

// Buckets are the key-value buckets of the worker.
type Buckets struct {
	State, Effects, Coord, Approvals jetstream.KeyValue
}

// OpenBuckets opens existing key-value buckets (when graphsoar must not
// create them).
func OpenBuckets(ctx context.Context, js jetstream.JetStream, t Topology) (Buckets, error) {
	var b Buckets
	for _, spec := range []struct {
		kv   *jetstream.KeyValue
		name string
	}{{&b.State, t.StateBucket}, {&b.Effects, t.EffectsBucket}, {&b.Coord, t.CoordBucket}, {&b.Approvals, t.ApprovalsBucket}} {
		kv, err := js.KeyValue(ctx, spec.name)
		if err != nil {
			return Buckets{}, fmt.Errorf("key-value bucket %s: %w", spec.name, err)
		}
		*spec.kv = kv
	}
	return b, nil
}

// EnsureBuckets creates or opens the key-value buckets.
func EnsureBuckets(ctx context.Context, js jetstream.JetStream, t Topology) (Buckets, error) {
	var b Buckets
	var err error
	if b.State, err = ensureBucket(ctx, js, t, t.StateBucket, t.StateTTL,
		"graphsoar: per-incident state (last version, previous snapshot, action budget)"); err != nil {
		return Buckets{}, err
	}
	if b.Effects, err = ensureBucket(ctx, js, t, t.EffectsBucket, t.EffectsTTL,
		"graphsoar: idempotency records of comments and security actions"); err != nil {
		return Buckets{}, err
	}
	if b.Coord, err = EnsureCoordBucket(ctx, js, t); err != nil {
		return Buckets{}, err
	}
	if b.Approvals, err = EnsureApprovalsBucket(ctx, js, t); err != nil {
		return Buckets{}, err
	}
	return b, nil
}

// EnsurePollBucket creates or opens the producer's bucket of watermarks and
// published versions (kept a year: an incident unseen longer is new again).
func EnsurePollBucket(ctx context.Context, js jetstream.JetStream, t Topology, name string) (jetstream.KeyValue, error) {
	return ensureBucket(ctx, js, t, name, 365*24*time.Hour, "graphsoar: producer watermarks and published incident versions")
}

// EnsureCoordBucket creates or opens the coordination bucket (leases) alone.
func EnsureCoordBucket(ctx context.Context, js jetstream.JetStream, t Topology) (jetstream.KeyValue, error) {
	return ensureBucket(ctx, js, t, t.CoordBucket, t.LeaseTTL, "graphsoar: worker heartbeats and partition leases")
}

// EnsureApprovalsBucket creates or opens the bucket of held actions alone.
func EnsureApprovalsBucket(ctx context.Context, js jetstream.JetStream, t Topology) (jetstream.KeyValue, error) {
	return ensureBucket(ctx, js, t, t.ApprovalsBucket, t.ApprovalsTTL, "graphsoar: actions waiting for approval and the decisions about them")
}

// ensureBucket creates or updates one key-value bucket of the topology's
// replication, keeping one value a key.
func ensureBucket(ctx context.Context, js jetstream.JetStream, t Topology, name string, ttl time.Duration, desc string) (jetstream.KeyValue, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: name, Description: desc, TTL: ttl, History: 1, Replicas: max(t.Replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("key-value bucket %s: %w", name, err)
	}
	return kv, nil
}
