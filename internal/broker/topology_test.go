package broker_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/graphsoar/graphsoar/internal/broker"
)

func TestTopologyPartitions(t *testing.T) {
	t.Parallel()
	top := broker.DefaultTopology()
	top.Partitions = 3
	if got := top.PartitionIDs(); !slices.Equal(got, []string{"0", "1", "2", "other"}) {
		t.Errorf("PartitionIDs %v", got)
	}
	if top.ConsumerName("1") != "graphsoar-1" || top.FilterSubject("1") != "graphsoar.incidents.1.>" || top.FilterSubject("other") != "security.incidents.>" {
		t.Error("names")
	}
	cfg := top.StreamConfig()
	if cfg.SubjectTransform == nil || cfg.SubjectTransform.Source != "security.incidents.*.*" ||
		cfg.SubjectTransform.Destination != "graphsoar.incidents.{{partition(3,1)}}.{{wildcard(1)}}.{{wildcard(2)}}" || cfg.Duplicates == 0 {
		t.Errorf("stream %+v", cfg)
	}
	one := broker.DefaultTopology()
	one.Partitions = 1
	if got := one.PartitionIDs(); !slices.Equal(got, []string{"all"}) || one.StreamConfig().SubjectTransform != nil || one.ConsumerName("all") != "graphsoar" {
		t.Errorf("one partition: %v", got)
	}
}

// Against a real embedded server: events land in their partition and the
// stream can be checked without being changed.
func TestEnsureAgainstEmbeddedServer(t *testing.T) {
	t.Parallel()
	emb, err := broker.StartEmbedded(broker.EmbeddedOptions{Dir: filepath.Join(t.TempDir(), "js")})
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Shutdown()
	nc, err := nats.Connect(emb.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	top := broker.DefaultTopology()
	if err := broker.EnsureStream(ctx, js, top, false); err == nil {
		t.Error("checking a missing stream must fail")
	}
	if err := broker.EnsureStream(ctx, js, top, true); err != nil {
		t.Fatal(err)
	}
	if err := broker.EnsureConsumers(ctx, js, top, true); err != nil {
		t.Fatal(err)
	}
	if err := broker.EnsureStream(ctx, js, top, false); err != nil {
		t.Errorf("check after create: %v", err)
	}
	if _, err := js.Publish(ctx, "security.incidents.t1.42", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	s, _ := js.Stream(ctx, top.Stream)
	info, _ := s.Info(ctx, jetstream.WithSubjectFilter(">"))
	var subj string
	for k := range info.State.Subjects {
		subj = k
	}
	if !strings.HasPrefix(subj, "graphsoar.incidents.") || !strings.HasSuffix(subj, ".t1.42") {
		t.Errorf("stored subject %q", subj)
	}
	if _, err := broker.EnsureBuckets(ctx, js, top); err != nil {
		t.Fatal(err)
	}
	if _, err := broker.OpenBuckets(ctx, js, top); err != nil {
		t.Errorf("open: %v", err)
	}
	// A stream created without partitions is refused for a partitioned worker.
	plain := top
	plain.Stream, plain.Subject, plain.Partitions = "PLAIN", "plain.>", 1
	if err := broker.EnsureStream(ctx, js, plain, true); err != nil {
		t.Fatal(err)
	}
	plain.Partitions = 4
	if err := broker.EnsureStream(ctx, js, plain, false); err == nil || !strings.Contains(err.Error(), "cannot partition") {
		t.Errorf("unpartitioned stream: %v", err)
	}
}
