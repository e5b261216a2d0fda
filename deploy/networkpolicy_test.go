package deploy_test

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestNetworkPolicy: a NetworkPolicy selects the NATS pods; the client port
// admits exactly the worker's and the producer's pods, the route port only
// NATS pods, and no rule opens a port to everyone.
func TestNetworkPolicy(t *testing.T) {
	c := loadCluster(t)
	w, ctr, opts, _ := natsServer(t, c)
	named := func(name string) *workload {
		for _, x := range c.workloads() {
			if x.name == name {
				return &x
			}
		}
		t.Fatalf("no workload %s", name)
		return nil
	}
	worker, poller := named("graphsoar-worker"), named("graphsoar-poller")

	var policies []*networkingv1.NetworkPolicy
	for _, np := range all[*networkingv1.NetworkPolicy](c) {
		if matches(&np.Spec.PodSelector, w.template.Labels) && slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
			policies = append(policies, np)
		}
	}
	if len(policies) == 0 {
		t.Fatal("no NetworkPolicy selects the NATS pods for ingress")
	}
	// peersOf collects, per NATS port, the peers admitted to it.
	portNumber := func(p *intstr.IntOrString) int {
		if p == nil {
			return 0 // every port
		}
		if p.Type == intstr.String {
			cp, ok := containerPort(ctr, *p)
			if !ok {
				t.Errorf("NetworkPolicy port %s is not a port of the NATS container", p.StrVal)
			}
			return int(cp.ContainerPort)
		}
		return int(p.IntVal)
	}
	peers := map[int][]networkingv1.NetworkPolicyPeer{}
	for _, np := range policies {
		for _, rule := range np.Spec.Ingress {
			if len(rule.From) == 0 {
				t.Errorf("NetworkPolicy %s: an ingress rule without from admits every pod", np.Name)
			}
			if len(rule.Ports) == 0 {
				t.Errorf("NetworkPolicy %s: an ingress rule without ports opens every port", np.Name)
			}
			for _, p := range rule.Ports {
				if p.Protocol != nil && *p.Protocol != corev1.ProtocolTCP {
					t.Errorf("NetworkPolicy %s: protocol %s", np.Name, *p.Protocol)
				}
				n := portNumber(p.Port)
				peers[n] = append(peers[n], rule.From...)
			}
		}
	}
	selectsOnly := func(port int, want ...*workload) {
		got := peers[port]
		if len(got) == 0 {
			t.Errorf("port %d: no peer admitted", port)
		}
		for _, p := range got {
			if p.IPBlock != nil || p.NamespaceSelector != nil || p.PodSelector == nil {
				t.Errorf("port %d: a peer that is not a pod selector of this namespace: %+v", port, p)
				continue
			}
			if !slices.ContainsFunc(want, func(w *workload) bool { return matches(p.PodSelector, w.template.Labels) }) {
				t.Errorf("port %d: peer %v selects none of the workloads allowed there", port, p.PodSelector.MatchLabels)
			}
		}
		for _, w := range want {
			if !slices.ContainsFunc(got, func(p networkingv1.NetworkPolicyPeer) bool {
				return p.PodSelector != nil && p.NamespaceSelector == nil && matches(p.PodSelector, w.template.Labels)
			}) {
				t.Errorf("port %d: %s is not admitted", port, w)
			}
		}
	}
	if len(peers[0]) > 0 {
		t.Error("a rule admits peers to every port")
	}
	selectsOnly(opts.Port, worker, poller)
	selectsOnly(opts.Cluster.Port, &w)
	for port := range peers {
		if port != opts.Port && port != opts.Cluster.Port && port != opts.HTTPPort {
			t.Errorf("port %d is open but is no NATS port", port)
		}
	}
}
