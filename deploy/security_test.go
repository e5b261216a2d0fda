package deploy_test

import (
	"crypto/tls"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/conf"
	"github.com/nats-io/nats-server/v2/server"
	corev1 "k8s.io/api/core/v1"
)

// The allow-lists of the deployment's NATS users (docs/SECURITY.md): what
// each role does, and nothing else.
var (
	workerPublish = append([]string{
		"$JS.API.INFO",
		"$JS.API.STREAM.INFO.INCIDENTS",
		"$JS.API.DIRECT.GET.INCIDENTS",
		"$JS.API.STREAM.MSG.GET.INCIDENTS",
		"$JS.API.CONSUMER.INFO.INCIDENTS.>",
		"$JS.API.CONSUMER.MSG.NEXT.INCIDENTS.>",
		"$JS.ACK.INCIDENTS.>",
		"graphsoar.audit.>",
		"graphsoar.dlq.>",
		"security.incidents.>",                    // decisions about held actions
		"$JS.API.STREAM.MSG.DELETE.GRAPHSOAR_DLQ", // the live page's replay
	}, slices.Concat(readStream("GRAPHSOAR_AUDIT"), readStream("GRAPHSOAR_DLQ"), bucketSubjects("graphsoar-state", false), bucketSubjects("graphsoar-effects", false), bucketSubjects("graphsoar-coord", true),
		bucketSubjects("graphsoar-approvals", true))...)
	pollerPublish = []string{
		"security.incidents.>",
		"$JS.API.INFO",
		"$JS.API.STREAM.INFO.INCIDENTS",
		"$KV.graphsoar-poll.>",
		"$JS.API.STREAM.INFO.KV_graphsoar-poll",
		"$JS.API.STREAM.UPDATE.KV_graphsoar-poll",
		"$JS.API.DIRECT.GET.KV_graphsoar-poll.>",
		"$JS.API.STREAM.MSG.GET.KV_graphsoar-poll",
		"$KV.graphsoar-coord.poll.>",
		"$JS.API.STREAM.INFO.KV_graphsoar-coord",
		"$JS.API.STREAM.UPDATE.KV_graphsoar-coord",
		"$JS.API.DIRECT.GET.KV_graphsoar-coord.$KV.graphsoar-coord.poll.>",
	}
	inboxOnly = []string{"_INBOX.>"}
	// The worker's live page also hears of new dead letters.
	workerSubscribe = []string{"_INBOX.>", "graphsoar.dlq.>"}
)

// readStream are the subjects of reading a stream through an ordered
// consumer (the live page's audit feed and dead letters).
func readStream(stream string) []string {
	out := []string{"$JS.API.STREAM.INFO." + stream}
	for _, op := range []string{"CREATE", "MSG.NEXT", "INFO", "DELETE"} {
		out = append(out, "$JS.API.CONSUMER."+op+"."+stream+".>")
	}
	return out
}

// bucketSubjects are the subjects of using a key-value bucket: writing and
// reading its keys and, with list, listing them (an ordered consumer).
func bucketSubjects(b string, list bool) []string {
	out := []string{
		"$KV." + b + ".>",
		"$JS.API.STREAM.INFO.KV_" + b,
		"$JS.API.DIRECT.GET.KV_" + b + ".>",
		"$JS.API.STREAM.MSG.GET.KV_" + b,
	}
	if list {
		out = append(out, "$JS.API.CONSUMER.CREATE.KV_"+b+".>", "$JS.API.CONSUMER.DELETE.KV_"+b+".>")
	}
	return out
}

// natsServer returns the NATS StatefulSet of the manifests, its container
// and its parsed configuration.
func natsServer(t *testing.T, c *cluster) (workload, *corev1.Container, *server.Options, string) {
	t.Helper()
	for _, w := range c.workloads() {
		for i := range w.template.Spec.Containers {
			ctr := &w.template.Spec.Containers[i]
			if imageName(ctr.Image) != "nats" {
				continue
			}
			opts, raw, err := natsConf(t, c, w, &w.template.Spec, ctr)
			if err != nil {
				t.Fatal(err)
			}
			return w, ctr, opts, raw
		}
	}
	t.Fatal("no NATS container among the manifests")
	return workload{}, nil, nil, ""
}

// users are the NATS users of the configuration, by name.
func users(opts *server.Options) map[string]*server.User {
	out := map[string]*server.User{}
	for _, u := range opts.Users {
		out[u.Username] = u
	}
	return out
}

// TestNATSSecurity checks the NATS configuration of the manifests: mutual
// TLS for clients and routes with certificates that name the hosts clients
// and servers dial, and users whose permissions are explicit allow-lists:
// the worker's and the producer's exactly those of docs/SECURITY.md.
func TestNATSSecurity(t *testing.T) {
	c := loadCluster(t)
	w, ctr, opts, raw := natsServer(t, c)

	// TLS, verified both ways, for clients and for routes.
	if opts.TLSConfig == nil || opts.TLSConfig.ClientAuth != tls.RequireAndVerifyClientCert {
		t.Error("nats.conf: clients are not on mutual TLS (tls { ... verify: true })")
	} else if opts.TLSConfig.MinVersion < tls.VersionTLS12 {
		t.Errorf("nats.conf: TLS minimum version %x", opts.TLSConfig.MinVersion)
	}
	if opts.Cluster.TLSConfig == nil || opts.Cluster.TLSConfig.ClientAuth != tls.RequireAndVerifyClientCert {
		t.Error("nats.conf: routes are not on mutual TLS (cluster { tls { ... verify: true } })")
	}
	if opts.NoAuthUser != "" || len(opts.Users) == 0 || len(opts.Nkeys) > 0 || opts.Authorization != "" || opts.Username != "" {
		t.Error("nats.conf: want users with passwords from the environment and nothing else (no default user, token or top-level user)")
	}

	// The certificates: the client certificate of the server names the
	// host of graphsoar's nats.url; the route certificate every route host.
	parsed, err := conf.Parse(raw)
	if err != nil {
		t.Fatalf("nats.conf: %v", err)
	}
	certSecret := func(block map[string]any, what string) *certificate {
		file, _ := block["cert_file"].(string)
		for _, m := range ctr.VolumeMounts {
			if v, ok := volumeNamed(&w.template.Spec, m.Name); ok && v.Secret != nil && strings.HasPrefix(file, strings.TrimSuffix(m.MountPath, "/")+"/") {
				if crt, ok := c.certificateFor(v.Secret.SecretName); ok {
					return crt
				}
			}
		}
		t.Errorf("nats.conf: the %s certificate %q is not a cert-manager Certificate's Secret mounted in the container", what, file)
		return nil
	}
	clientTLS, _ := parsed["tls"].(map[string]any)
	cluster, _ := parsed["cluster"].(map[string]any)
	routeTLS, _ := cluster["tls"].(map[string]any)
	if crt := certSecret(clientTLS, "client"); crt != nil {
		if !hasUsage(crt, "server auth") {
			t.Errorf("Certificate %s: no server auth usage", crt.Name)
		}
		cfg := workerConfig(t)
		for _, raw := range strings.Split(cfg.NATS.URL, ",") {
			if u, err := url.Parse(strings.TrimSpace(raw)); err != nil || !covers(crt, u.Hostname()) {
				t.Errorf("Certificate %s does not name %s, the host of nats.url", crt.Name, raw)
			}
		}
	}
	if crt := certSecret(routeTLS, "route"); crt != nil {
		if !hasUsage(crt, "server auth") || !hasUsage(crt, "client auth") {
			t.Errorf("Certificate %s: a route certificate serves both ends: server auth and client auth", crt.Name)
		}
		for _, r := range opts.Routes {
			if !covers(crt, r.Hostname()) {
				t.Errorf("Certificate %s does not name the route host %s", crt.Name, r.Hostname())
			}
		}
	}

	// Every user has explicit publish and subscribe allow-lists.
	us := users(opts)
	for name, u := range us {
		p := u.Permissions
		if p == nil || p.Publish == nil || p.Subscribe == nil || len(p.Publish.Allow) == 0 || len(p.Subscribe.Allow) == 0 {
			t.Errorf("NATS user %s: no explicit publish and subscribe allow-lists", name)
		}
		if u.Account == nil || u.Account.Name == server.DEFAULT_GLOBAL_ACCOUNT {
			t.Errorf("NATS user %s is in the global account", name)
		}
	}
	same := func(who, kind string, got, want []string) {
		g, w := slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
		if !slices.Equal(g, w) {
			t.Errorf("NATS user %s may %s\n%q\nwant exactly\n%q", who, kind, g, w)
		}
	}
	for who, want := range map[string]struct{ publish, subscribe []string }{
		"graphsoar-worker": {workerPublish, workerSubscribe},
		"graphsoar-poller": {pollerPublish, inboxOnly},
	} {
		u, ok := us[who]
		if !ok || u.Permissions == nil || u.Permissions.Publish == nil || u.Permissions.Subscribe == nil {
			t.Errorf("no NATS user %s with permissions", who)
			continue
		}
		same(who, "publish", u.Permissions.Publish.Allow, want.publish)
		same(who, "subscribe", u.Permissions.Subscribe.Allow, want.subscribe)
	}
	// The producer's only subjects outside JetStream's API and key-value
	// buckets are incident events.
	if u, ok := us["graphsoar-poller"]; ok && u.Permissions != nil && u.Permissions.Publish != nil {
		for _, s := range u.Permissions.Publish.Allow {
			if !strings.HasPrefix(s, "$JS.API.") && !strings.HasPrefix(s, "$KV.") && s != "security.incidents.>" {
				t.Errorf("the producer may publish to %s, beyond security.incidents.>", s)
			}
		}
	}

	// graphsoar's containers authenticate as these users.
	for _, gw := range c.workloads() {
		for _, gc := range gw.template.Spec.Containers {
			if imageName(gc.Image) != "graphsoar" {
				continue
			}
			want := map[string]string{"graphsoar-worker": "graphsoar-worker", "graphsoar-poller": "graphsoar-poller"}[gw.name]
			if user, _ := envValue(&gc, "NATS_USER"); user != want || us[user] == nil {
				t.Errorf("%s: NATS_USER %q, want %q, a user of nats.conf", gw, user, want)
			}
		}
	}
}

// TestNATSServices: clients reach NATS through a Service that exposes the
// client port and nothing else; monitoring (8222) is on its own Service.
func TestNATSServices(t *testing.T) {
	c := loadCluster(t)
	cfg := workerConfig(t)
	u, err := url.Parse(strings.Split(cfg.NATS.URL, ",")[0])
	if err != nil {
		t.Fatal(err)
	}
	name, _, _ := strings.Cut(u.Hostname(), ".")
	svc, ok := get[*corev1.Service](c, name)
	if !ok {
		t.Fatalf("nats.url names no Service (%s)", name)
	}
	for _, p := range svc.Spec.Ports {
		if p.Port == 8222 || p.TargetPort.StrVal == "monitor" || p.TargetPort.IntVal == 8222 {
			t.Errorf("Service %s (the clients') exposes the monitoring port: %+v", svc.Name, p)
		}
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 4222 {
		t.Errorf("Service %s: ports %+v, want the client port 4222 only", svc.Name, svc.Spec.Ports)
	}
	if !slices.ContainsFunc(all[*corev1.Service](c), func(s *corev1.Service) bool {
		return s.Name != svc.Name && slices.ContainsFunc(s.Spec.Ports, func(p corev1.ServicePort) bool { return p.Port == 8222 })
	}) {
		t.Error("no Service for NATS monitoring (8222)")
	}
}
