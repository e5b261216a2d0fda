package deploy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/graphsoar/graphsoar/internal/broker"
)

const natsDir = "nats"

// jsRecorder stands in for JetStream: it answers the JetStream API requests
// graphsoar's broker package makes on a core NATS server (in-process, no
// socket) and records the stream and consumer configurations they carry,
// exactly as nats.go sends them. A single real JetStream server would refuse
// replicas 3, and a cluster is too slow for a unit test.
type jsRecorder struct {
	mu         sync.Mutex
	streams    map[string][]json.RawMessage // by stream name, every create and update
	consumers  map[string][]json.RawMessage // by durable name
	unexpected []string
}

func startRecorder(t *testing.T) (jetstream.JetStream, *jsRecorder) {
	t.Helper()
	srv, err := server.NewServer(&server.Options{DontListen: true, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	t.Cleanup(srv.Shutdown)
	if !srv.ReadyForConnections(5 * time.Second) {
		t.Fatal("in-process NATS server not ready")
	}
	nc, err := nats.Connect("", nats.InProcessServer(srv))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	rec := &jsRecorder{streams: map[string][]json.RawMessage{}, consumers: map[string][]json.RawMessage{}}
	if _, err := nc.Subscribe("$JS.API.>", rec.handle); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js, rec
}

func (r *jsRecorder) handle(m *nats.Msg) {
	r.mu.Lock()
	defer r.mu.Unlock()
	const now = `"2026-01-01T00:00:00Z"`
	subj := strings.TrimPrefix(m.Subject, "$JS.API.")
	tokens := strings.Split(subj, ".")
	respond := func(format string, args ...any) { _ = m.Respond(fmt.Appendf(nil, format, args...)) }
	switch {
	case subj == "INFO":
		respond(`{"type":"io.nats.jetstream.api.v1.account_info_response","memory":0,"storage":0,"streams":0,"consumers":0,` +
			`"limits":{"max_memory":-1,"max_storage":-1,"max_streams":-1,"max_consumers":-1},"api":{"level":1,"total":0,"errors":0}}`)
	case len(tokens) == 3 && tokens[0] == "STREAM" && tokens[1] == "UPDATE":
		// Not found, so that CreateOrUpdateStream creates.
		r.streams[tokens[2]] = append(r.streams[tokens[2]], slices.Clone(m.Data))
		respond(`{"type":"io.nats.jetstream.api.v1.stream_update_response","error":{"code":404,"err_code":10059,"description":"stream not found"}}`)
	case len(tokens) == 3 && tokens[0] == "STREAM" && tokens[1] == "CREATE":
		r.streams[tokens[2]] = append(r.streams[tokens[2]], slices.Clone(m.Data))
		respond(`{"type":"io.nats.jetstream.api.v1.stream_create_response","config":%s,"created":%s,"ts":%s,`+
			`"state":{"messages":0,"bytes":0,"first_seq":0,"first_ts":"0001-01-01T00:00:00Z","last_seq":0,"last_ts":"0001-01-01T00:00:00Z","consumer_count":0}}`,
			m.Data, now, now)
	case len(tokens) >= 4 && tokens[0] == "CONSUMER" && tokens[1] == "CREATE":
		var req struct {
			Stream string          `json:"stream_name"`
			Config json.RawMessage `json:"config"`
			Action string          `json:"action"`
		}
		if err := json.Unmarshal(m.Data, &req); err != nil || req.Stream != tokens[2] {
			r.unexpected = append(r.unexpected, m.Subject+" "+string(m.Data))
			respond(`{"error":{"code":400,"err_code":10025,"description":"bad request"}}`)
			return
		}
		r.consumers[tokens[3]] = append(r.consumers[tokens[3]], req.Config)
		respond(`{"type":"io.nats.jetstream.api.v1.consumer_create_response","stream_name":%q,"name":%q,"created":%s,"ts":%s,"config":%s,`+
			`"delivered":{"consumer_seq":0,"stream_seq":0},"ack_floor":{"consumer_seq":0,"stream_seq":0},"num_ack_pending":0,"num_redelivered":0,"num_waiting":0,"num_pending":0}`,
			tokens[2], tokens[3], now, now, req.Config)
	default:
		r.unexpected = append(r.unexpected, m.Subject)
		respond(`{"error":{"code":500,"err_code":10000,"description":"not expected by the test"}}`)
	}
}

// definitions runs what graphsoar runs against NATS with create on (the
// worker's prepare, the producer's buckets) and returns the stream and
// consumer configurations it sends.
func definitions(t *testing.T, topo broker.Topology, pollBucket string) (streams map[string]jetstream.StreamConfig, consumers map[string]jetstream.ConsumerConfig) {
	t.Helper()
	js, rec := startRecorder(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	must := func(what string, err error) {
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// cmd/graphsoar/run.go prepare(create=true), then poll.go's buckets.
	must("EnsureStream", broker.EnsureStream(ctx, js, topo, true))
	must("EnsureConsumers", broker.EnsureConsumers(ctx, js, topo, true))
	must("EnsureSideStreams", broker.EnsureSideStreams(ctx, js, topo))
	_, err := broker.EnsureBuckets(ctx, js, topo)
	must("EnsureBuckets", err)
	_, err = broker.EnsurePollBucket(ctx, js, topo, pollBucket)
	must("EnsurePollBucket", err)
	_, err = broker.EnsureCoordBucket(ctx, js, topo)
	must("EnsureCoordBucket", err)

	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.unexpected) > 0 {
		t.Errorf("JetStream API requests the test does not answer: %v", rec.unexpected)
	}
	streams = map[string]jetstream.StreamConfig{}
	for name, bodies := range rec.streams {
		for i, b := range bodies {
			var cfg jetstream.StreamConfig
			if err := decodeStrict(b, &cfg); err != nil {
				t.Fatalf("stream %s as sent: %v", name, err)
			}
			if prev, ok := streams[name]; ok && !reflect.DeepEqual(prev, cfg) {
				// e.g. the worker and the producer create graphsoar-coord
				// differently, and would keep updating it.
				t.Errorf("stream %s is sent with two configurations (request %d):\n%s\n%s", name, i, canonical(t, prev), canonical(t, cfg))
			}
			streams[name] = cfg
		}
	}
	consumers = map[string]jetstream.ConsumerConfig{}
	for name, bodies := range rec.consumers {
		for _, b := range bodies {
			var cfg jetstream.ConsumerConfig
			if err := decodeStrict(b, &cfg); err != nil {
				t.Fatalf("consumer %s as sent: %v", name, err)
			}
			consumers[name] = cfg
		}
	}
	return streams, consumers
}

// canonical is the JSON of a definition file: nats.go's field names, indented,
// with > and & unescaped.
func canonical(t *testing.T, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestJetStreamDefinitions checks deploy/nats/streams/*.json and
// deploy/nats/consumers/*.json against what graphsoar creates itself: they
// decode strictly into nats.go's StreamConfig and ConsumerConfig and equal
// the configurations the broker package sends for the deployed topology
// (config.yaml: 8 partitions, replicas 3), which is broker.DefaultTopology()
// with Replicas 3. With -update they are rewritten.
func TestJetStreamDefinitions(t *testing.T) {
	cfg := workerConfig(t)
	topo := cfg.Topology()
	want := broker.DefaultTopology()
	want.Replicas = 3
	if !reflect.DeepEqual(topo, want) {
		t.Errorf("config.yaml's topology is not broker.DefaultTopology() with Replicas 3:\n got %+v\nwant %+v", topo, want)
	}
	streams, consumers := definitions(t, topo, cfg.Poll.Bucket)

	// The incident stream and its consumers are Topology's, field for field.
	if got, ok := streams[topo.Stream]; !ok || !reflect.DeepEqual(got, topo.StreamConfig()) {
		t.Errorf("stream %s as sent differs from Topology.StreamConfig()", topo.Stream)
	}
	for _, p := range topo.PartitionIDs() {
		name := topo.ConsumerName(p)
		if got, ok := consumers[name]; !ok || !reflect.DeepEqual(got, topo.ConsumerConfig(p)) {
			t.Errorf("consumer %s as sent differs from Topology.ConsumerConfig(%q)", name, p)
		}
	}
	if len(consumers) != topo.Partitions+1 {
		t.Errorf("%d consumers for %d partitions, want one per partition and %s-other", len(consumers), topo.Partitions, topo.Consumer)
	}
	for _, name := range []string{topo.DLQStream, topo.AuditStream, "KV_" + topo.StateBucket, "KV_" + topo.EffectsBucket,
		"KV_" + topo.CoordBucket, "KV_" + topo.ApprovalsBucket, "KV_" + cfg.Poll.Bucket} {
		if _, ok := streams[name]; !ok {
			t.Errorf("stream %s was not created", name)
		}
	}

	compareDir(t, filepath.Join(natsDir, "streams"), streams, func(b []byte) (any, error) {
		var c jetstream.StreamConfig
		return c, decodeInto(b, &c)
	}, func(v any) string { return v.(jetstream.StreamConfig).Name })
	compareDir(t, filepath.Join(natsDir, "consumers"), consumers, func(b []byte) (any, error) {
		var c jetstream.ConsumerConfig
		return c, decodeInto(b, &c)
	}, func(v any) string { return v.(jetstream.ConsumerConfig).Durable })

	// create.sh adds the consumers to the incident stream.
	script, err := os.ReadFile(filepath.Join(natsDir, "create.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(script), "STREAM="+topo.Stream) {
		t.Errorf("create.sh does not add the consumers to %s", topo.Stream)
	}
}

func decodeInto[T any](b []byte, v *T) error { return decodeStrict(b, v) }

// compareDir compares NAME.json files with the definitions (or writes them
// with -update).
func compareDir[T any](t *testing.T, dir string, defs map[string]T, decode func([]byte) (any, error), nameOf func(any) string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		old, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		for _, f := range old {
			_ = os.Remove(f)
		}
		for name, def := range defs {
			if err := os.WriteFile(filepath.Join(dir, name+".json"), canonical(t, def), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		seen[name] = true
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decode(b)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if n := nameOf(got); n != name {
			t.Errorf("%s names %q", f, n)
		}
		want, ok := defs[name]
		if !ok {
			t.Errorf("%s: graphsoar creates no %s (go test ./deploy -run TestJetStreamDefinitions -update)", f, name)
			continue
		}
		if !reflect.DeepEqual(got, any(want)) {
			t.Errorf("%s differs from what graphsoar creates (go test ./deploy -run TestJetStreamDefinitions -update):\n got %s\nwant %s",
				f, canonical(t, got), canonical(t, want))
		}
	}
	for name := range defs {
		if !seen[name] {
			t.Errorf("%s/%s.json is missing (go test ./deploy -run TestJetStreamDefinitions -update)", dir, name)
		}
	}
}

// checkNATSContainer loads the NATS server's configuration file as the
// container sees it with nats-server's own parser, and checks it against the
// StatefulSet: ports, the JetStream store on the volume, routes to every
// pod through the headless Service, lame duck mode within the grace period.
func checkNATSContainer(t *testing.T, c *cluster, w workload, pod *corev1.PodSpec, ctr *corev1.Container) {
	if w.sts == nil {
		t.Errorf("container %s: NATS outside a StatefulSet", ctr.Name)
		return
	}
	i := slices.Index(ctr.Command, "--config")
	if i < 0 || i+1 >= len(ctr.Command) {
		t.Errorf("container %s: command %q has no --config FILE", ctr.Name, ctr.Command)
		return
	}
	file := ctr.Command[i+1]
	pod0 := w.name + "-0"
	opts, _, err := natsConf(t, c, w, pod, ctr)
	if err != nil {
		t.Errorf("%s: %v", file, err)
		return
	}
	if opts.ServerName != pod0 {
		t.Errorf("server_name %q on pod %s: want the pod name", opts.ServerName, pod0)
	}
	port := func(name string, want int) {
		if cp, ok := containerPort(ctr, intstr.FromString(name)); !ok || int(cp.ContainerPort) != want {
			t.Errorf("nats.conf listens for %s on %d, the container port %s is %d", name, want, name, cp.ContainerPort)
		}
	}
	port("client", opts.Port)
	port("cluster", opts.Cluster.Port)
	port("monitor", opts.HTTPPort)
	for kind, p := range map[string]*corev1.Probe{"liveness": ctr.LivenessProbe, "readiness": ctr.ReadinessProbe, "startup": ctr.StartupProbe} {
		if p == nil || p.HTTPGet == nil || !strings.HasPrefix(p.HTTPGet.Path, "/healthz") {
			t.Errorf("container %s: %s probe should GET /healthz on the monitoring port", ctr.Name, kind)
		} else if cp, _ := containerPort(ctr, p.HTTPGet.Port); int(cp.ContainerPort) != opts.HTTPPort {
			t.Errorf("container %s: %s probe not on the monitoring port %d", ctr.Name, kind, opts.HTTPPort)
		}
	}
	if !opts.JetStream {
		t.Error("nats.conf: JetStream is off")
	}
	var store *corev1.PersistentVolumeClaim
	for _, m := range ctr.VolumeMounts {
		for i := range w.claims {
			if w.claims[i].Name == m.Name && (opts.StoreDir == m.MountPath || strings.HasPrefix(opts.StoreDir, m.MountPath+"/")) {
				store = &w.claims[i]
			}
		}
	}
	if store == nil {
		t.Errorf("nats.conf: store_dir %s is not on a volumeClaimTemplate", opts.StoreDir)
	} else if size := store.Spec.Resources.Requests[corev1.ResourceStorage]; opts.JetStreamMaxStore <= 0 || opts.JetStreamMaxStore >= size.Value() {
		t.Errorf("nats.conf: max_file_store %d is not below the volume's %s", opts.JetStreamMaxStore, size.String())
	}
	if opts.PidFile != "" && !slices.ContainsFunc(ctr.VolumeMounts, func(m corev1.VolumeMount) bool {
		return strings.HasPrefix(opts.PidFile, m.MountPath+"/")
	}) {
		t.Errorf("nats.conf: pid_file %s is not on a writable volume (the root file system is read-only)", opts.PidFile)
	}
	if ctr.Lifecycle != nil && ctr.Lifecycle.PreStop != nil && ctr.Lifecycle.PreStop.Exec != nil {
		if cmd := strings.Join(ctr.Lifecycle.PreStop.Exec.Command, " "); !strings.Contains(cmd, "ldm="+opts.PidFile) {
			t.Errorf("preStop %q does not signal lame duck mode to pid_file %s", cmd, opts.PidFile)
		}
	}
	grace := time.Duration(30) * time.Second
	if pod.TerminationGracePeriodSeconds != nil {
		grace = time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
	}
	if opts.LameDuckDuration+opts.LameDuckGracePeriod >= grace {
		t.Errorf("lame duck mode (%v + %v) does not fit in terminationGracePeriodSeconds %v", opts.LameDuckDuration, opts.LameDuckGracePeriod, grace)
	}

	// Routes: one to every pod, by its name in the headless Service.
	svc, ok := get[*corev1.Service](c, w.sts.Spec.ServiceName)
	switch {
	case !ok:
		t.Errorf("serviceName %s is not a Service of the manifests", w.sts.Spec.ServiceName)
	case svc.Spec.ClusterIP != corev1.ClusterIPNone:
		t.Errorf("Service %s is not headless", svc.Name)
	case !svc.Spec.PublishNotReadyAddresses:
		t.Errorf("Service %s: publishNotReadyAddresses is off, so the servers cannot find each other before they are ready", svc.Name)
	}
	var want, got []string
	for i := range w.replicas {
		want = append(want, net.JoinHostPort(fmt.Sprintf("%s-%d.%s", w.name, i, w.sts.Spec.ServiceName), strconv.Itoa(opts.Cluster.Port)))
	}
	for _, r := range opts.Routes {
		got = append(got, routeHost(r, c.kust.Namespace))
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("nats.conf routes %v, want one to each pod: %v", got, want)
	}
	if opts.Cluster.Name == "" {
		t.Error("nats.conf: the cluster has no name")
	}
}

// natsConf loads the NATS container's configuration file as its pod-0
// sees it, with nats-server's own parser: the file from its ConfigMap mount,
// the TLS files of its Secret mounts stood in by generated ones (they exist
// only in the cluster), SERVER_NAME the pod name, and the variables from
// Secrets set to the example Secrets' values. It returns the server's
// options and the file's text as written.
func natsConf(t *testing.T, c *cluster, w workload, pod *corev1.PodSpec, ctr *corev1.Container) (*server.Options, string, error) {
	t.Helper()
	i := slices.Index(ctr.Command, "--config")
	if i < 0 || i+1 >= len(ctr.Command) {
		return nil, "", fmt.Errorf("container %s: command %q has no --config FILE", ctr.Name, ctr.Command)
	}
	content, err := c.fileAt(pod, ctr, ctr.Command[i+1])
	if err != nil {
		return nil, "", err
	}
	tmp := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(tmp, []byte(secretStandIns(t, c, pod, ctr).Replace(content)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, e := range ctr.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name":
			t.Setenv(e.Name, w.name+"-0")
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			s, ok := get[*corev1.Secret](c, ref.Name)
			if !ok || s.StringData[ref.Key] == "" {
				return nil, "", fmt.Errorf("env %s: no example value for Secret %s key %s", e.Name, ref.Name, ref.Key)
			}
			t.Setenv(e.Name, s.StringData[ref.Key])
		}
	}
	opts, err := server.ProcessConfigFile(tmp)
	return opts, content, err
}

// routeHost normalises a route to POD.SERVICE:PORT.
func routeHost(u *url.URL, ns string) string {
	host := u.Hostname()
	for _, suffix := range []string{"." + ns + ".svc.cluster.local", "." + ns + ".svc", "." + ns} {
		host = strings.TrimSuffix(host, suffix)
	}
	return net.JoinHostPort(host, u.Port())
}
