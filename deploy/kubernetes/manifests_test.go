package kubernetes_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

// object is one manifest document decoded strictly into its kind's type:
// an unknown or misspelt field anywhere fails, as kubectl's server-side
// validation would.
type object struct {
	file, kind, name string
	value            any
}

var kinds = map[string]func() any{
	"apps/v1 Deployment":                            func() any { return new(appsv1.Deployment) },
	"apps/v1 StatefulSet":                           func() any { return new(appsv1.StatefulSet) },
	"v1 Service":                                    func() any { return new(corev1.Service) },
	"policy/v1 PodDisruptionBudget":                 func() any { return new(policyv1.PodDisruptionBudget) },
	"autoscaling/v2 HorizontalPodAutoscaler":        func() any { return new(autoscalingv2.HorizontalPodAutoscaler) },
	"networking.k8s.io/v1 NetworkPolicy":            func() any { return new(networkingv1.NetworkPolicy) },
	"kustomize.config.k8s.io/v1beta1 Kustomization": nil, // checked by TestKustomizationListsEveryFile
	// No Secret: a Secret in these files would be a shipped password.
}

func load(t *testing.T) []object {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests found (%v)", err)
	}
	var out []object
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range bytes.Split(data, []byte("\n---\n")) {
			var head struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
				Metadata   struct {
					Name string `json:"name"`
				} `json:"metadata"`
			}
			if err := yaml.Unmarshal(doc, &head); err != nil {
				t.Fatalf("%s document %d: %v", f, i+1, err)
			}
			key := head.APIVersion + " " + head.Kind
			newValue, known := kinds[key]
			if !known {
				t.Fatalf("%s document %d: kind %q is not one this test knows", f, i+1, key)
			}
			if newValue == nil {
				continue
			}
			v := newValue()
			if err := yaml.UnmarshalStrict(doc, v); err != nil {
				t.Fatalf("%s document %d (%s %s): %v", f, i+1, head.Kind, head.Metadata.Name, err)
			}
			out = append(out, object{file: f, kind: head.Kind, name: head.Metadata.Name, value: v})
		}
	}
	return out
}

func find[T any](t *testing.T, objs []object, name string) *T {
	t.Helper()
	for _, o := range objs {
		if v, ok := o.value.(*T); ok && o.name == name {
			return v
		}
	}
	var zero T
	t.Fatalf("no %T named %q", zero, name)
	return nil
}

// workload is a Deployment's or StatefulSet's pod template.
type workload struct {
	object
	pod *corev1.PodTemplateSpec
}

func workloads(objs []object) []workload {
	var out []workload
	for _, o := range objs {
		switch v := o.value.(type) {
		case *appsv1.Deployment:
			out = append(out, workload{o, &v.Spec.Template})
		case *appsv1.StatefulSet:
			out = append(out, workload{o, &v.Spec.Template})
		}
	}
	return out
}

func containers(p *corev1.PodTemplateSpec) []corev1.Container {
	return append(slices.Clone(p.Spec.InitContainers), p.Spec.Containers...)
}

func TestManifests(t *testing.T) {
	objs := load(t)
	fh := find[appsv1.Deployment](t, objs, "flowhist")
	t.Run("FlowhistTwoReplicasWithProbes", func(t *testing.T) {
		if fh.Spec.Replicas == nil || *fh.Spec.Replicas != 2 {
			t.Fatalf("got replicas %v, want 2", fh.Spec.Replicas)
		}
		c := fh.Spec.Template.Spec.Containers[0]
		if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
			t.Fatalf("got readiness probe %+v, want GET /readyz", c.ReadinessProbe)
		}
		if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
			t.Fatalf("got liveness probe %+v, want GET /healthz", c.LivenessProbe)
		}
	})
	t.Run("SelectorsMatch", func(t *testing.T) {
		pods := map[string]labels.Set{} // workload name → its pods' labels
		for _, o := range objs {
			switch v := o.value.(type) {
			case *appsv1.Deployment:
				pods[v.Name] = v.Spec.Template.Labels
				mustSelect(t, o, v.Spec.Selector.MatchLabels, v.Spec.Template.Labels)
			case *appsv1.StatefulSet:
				pods[v.Name] = v.Spec.Template.Labels
				mustSelect(t, o, v.Spec.Selector.MatchLabels, v.Spec.Template.Labels)
			}
		}
		for _, o := range objs {
			switch v := o.value.(type) {
			case *corev1.Service:
				mustSelectSome(t, o, v.Spec.Selector, pods)
			case *policyv1.PodDisruptionBudget:
				mustSelectSome(t, o, v.Spec.Selector.MatchLabels, pods)
			case *autoscalingv2.HorizontalPodAutoscaler:
				if _, ok := pods[v.Spec.ScaleTargetRef.Name]; !ok || v.Spec.ScaleTargetRef.Kind != "Deployment" {
					t.Errorf("HorizontalPodAutoscaler %s scales %s %s, which is not here", v.Name, v.Spec.ScaleTargetRef.Kind, v.Spec.ScaleTargetRef.Name)
				}
			}
		}
	})
	t.Run("AdminKeepsItsUserDir", func(t *testing.T) {
		admin := find[appsv1.StatefulSet](t, objs, "nodered-admin")
		if len(admin.Spec.VolumeClaimTemplates) == 0 || !slices.ContainsFunc(admin.Spec.Template.Spec.Containers[0].VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == "/data" }) {
			t.Fatal("the admin's userDir (/data, Projects live there) must be on a volume")
		}
	})
	t.Run("WorkersScale", func(t *testing.T) {
		hpa := find[autoscalingv2.HorizontalPodAutoscaler](t, objs, "nodered-workers")
		if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas < 1 || hpa.Spec.MaxReplicas < *hpa.Spec.MinReplicas {
			t.Fatalf("got min %v max %d replicas", hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas)
		}
	})
}

func mustSelect(t *testing.T, o object, selector map[string]string, podLabels labels.Set) {
	t.Helper()
	if len(selector) == 0 || !labels.SelectorFromSet(selector).Matches(podLabels) {
		t.Errorf("%s %s: selector %v does not select its own pods %v", o.kind, o.name, selector, podLabels)
	}
}

func mustSelectSome(t *testing.T, o object, selector map[string]string, pods map[string]labels.Set) {
	t.Helper()
	for _, l := range pods {
		if len(selector) > 0 && labels.SelectorFromSet(selector).Matches(l) {
			return
		}
	}
	t.Errorf("%s %s: selector %v selects no workload's pods", o.kind, o.name, selector)
}

func TestKustomizationListsEveryFile(t *testing.T) {
	data, err := os.ReadFile("kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		APIVersion string   `json:"apiVersion"`
		Kind       string   `json:"kind"`
		Resources  []string `json:"resources"`
		// What `kustomize edit set image` adds (README.md, "The images").
		Images []any `json:"images"`
	}
	if err := yaml.UnmarshalStrict(data, &k); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("*.yaml")
	var want []string
	for _, f := range files {
		if f != "kustomization.yaml" {
			want = append(want, f)
		}
	}
	slices.Sort(want)
	got := slices.Clone(k.Resources)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("kustomization lists %v, want every manifest %v", got, want)
	}
}

// selects reports whether sel (a NetworkPolicy's podSelector or peer
// selector) selects pods labelled l.
func selects(t *testing.T, sel *metav1.LabelSelector, l labels.Set) bool {
	t.Helper()
	if sel == nil {
		return false
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Fatalf("selector %+v: %v", sel, err)
	}
	return s.Matches(l)
}

// TestLockedDown: every pod runs without privileges, with a read-only root
// filesystem, no service account token and the RuntimeDefault seccomp
// profile.
func TestLockedDown(t *testing.T) {
	for _, w := range workloads(load(t)) {
		t.Run(w.name, func(t *testing.T) {
			spec := w.pod.Spec
			if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
				t.Error("automountServiceAccountToken must be false: no container talks to the Kubernetes API")
			}
			if spec.HostNetwork || spec.HostPID || spec.HostIPC {
				t.Error("no host namespaces")
			}
			psc := spec.SecurityContext
			if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
				t.Errorf("the pod must run as a non-root user (runAsNonRoot, runAsUser ≠ 0): got %+v", psc)
			}
			podSeccomp := psc != nil && psc.SeccompProfile != nil && psc.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault
			for _, c := range containers(w.pod) {
				sc := c.SecurityContext
				if sc == nil {
					t.Errorf("container %s has no securityContext", c.Name)
					continue
				}
				if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
					t.Errorf("container %s: allowPrivilegeEscalation must be false", c.Name)
				}
				if sc.Privileged != nil && *sc.Privileged {
					t.Errorf("container %s is privileged", c.Name)
				}
				if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
					t.Errorf("container %s: readOnlyRootFilesystem must be true", c.Name)
				}
				if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 {
					t.Errorf("container %s: capabilities must drop ALL and add none, got %+v", c.Name, sc.Capabilities)
				}
				if sc.RunAsUser != nil && *sc.RunAsUser == 0 || sc.RunAsNonRoot != nil && !*sc.RunAsNonRoot {
					t.Errorf("container %s runs as root", c.Name)
				}
				if !podSeccomp && (sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault) {
					t.Errorf("container %s: seccompProfile must be RuntimeDefault (pod or container)", c.Name)
				}
			}
		})
	}
}

// pinned is an image named by digest: name[:tag]@sha256:<64 hex>.
var pinned = regexp.MustCompile(`^[a-z0-9][a-z0-9./_-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?@sha256:[0-9a-f]{64}$`)

// ownImages are the images built from this repository: their digest is
// known only once the user pushed them, so the files hold the all-zero
// digest, which no registry serves.
var ownImages = map[string]bool{"flowhist": true, "node-red-flowhist": true}

const zeroDigest = "sha256:0000000000000000000000000000000000000000000000000000000000000000"

// TestImagesPinned: every image is named by digest, with a comment just
// above saying how to update it; the public ones by a real digest.
func TestImagesPinned(t *testing.T) {
	files, _ := filepath.Glob("*.yaml")
	seen := 0
	for _, f := range files {
		data, _ := os.ReadFile(f)
		lines := strings.Split(string(data), "\n")
		for i, line := range lines {
			img, ok := strings.CutPrefix(strings.TrimSpace(line), "image:")
			if !ok {
				continue
			}
			seen++
			img = strings.TrimSpace(img)
			if !pinned.MatchString(img) {
				t.Errorf("%s:%d: image %q is not pinned by digest (name[:tag]@sha256:<64 hex>)", f, i+1, img)
				continue
			}
			name, digest, _ := strings.Cut(img, "@")
			name, _, _ = strings.Cut(name, ":")
			if digest == zeroDigest && !ownImages[name] {
				t.Errorf("%s:%d: %s has the all-zero digest: a public image needs its real one", f, i+1, name)
			}
			var comment []string
			for j := i - 1; j >= 0 && strings.HasPrefix(strings.TrimSpace(lines[j]), "#"); j-- {
				comment = append(comment, lines[j])
			}
			if c := strings.Join(comment, "\n"); !strings.Contains(c, "kustomize edit set image") && !strings.Contains(c, "imagetools inspect") {
				t.Errorf("%s:%d: no comment above the image saying how to update its digest", f, i+1)
			}
		}
	}
	if seen == 0 {
		t.Fatal("no image found")
	}
}

// secretCommand is one `kubectl create secret generic NAME
// --from-literal=KEY=VALUE …` of README.md.
var secretCommand = regexp.MustCompile(`kubectl create secret generic ([a-z0-9-]+)((?:\s*\\?\s*--from-literal=[a-z0-9-]+="\$\([^\n]*)+)`)
var fromLiteral = regexp.MustCompile(`--from-literal=([a-z0-9-]+)=`)

// readmeSecrets are the Secrets and keys the README's commands create, each
// from a value generated by a command, never a literal.
func readmeSecrets(t *testing.T) map[string][]string {
	t.Helper()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, m := range secretCommand.FindAllStringSubmatch(string(readme), -1) {
		for _, k := range fromLiteral.FindAllStringSubmatch(m[2], -1) {
			out[m[1]] = append(out[m[1]], k[1])
		}
	}
	if n := strings.Count(string(readme), "kubectl create secret generic"); n != len(out) || n == 0 {
		t.Errorf("README.md has %d `kubectl create secret generic` commands, %d of them creating every value from a command ($(openssl rand …)): want all", n, len(out))
	}
	return out
}

// TestNoSecretShipped: no password, token or hash is in the files; every
// Secret a pod reads is created by README's commands with generated values
// (optional only where a missing one means "generate it at start").
func TestNoSecretShipped(t *testing.T) {
	objs := load(t)
	created := readmeSecrets(t)
	secretish := regexp.MustCompile(`(?i)token|password|secret|passwd|hash|auth|api_?key|private`)
	for _, w := range workloads(objs) {
		for _, c := range containers(w.pod) {
			for _, e := range c.Env {
				if e.Value != "" && secretish.MatchString(e.Name) && e.Name != "FLOWHIST_VALKEY_USERNAME" {
					// Only a composition of variables from Secrets.
					if rest := regexp.MustCompile(`"token":"\$\([A-Z_]+\)"`).ReplaceAllString(e.Value, ""); strings.Contains(rest, `"token"`) || !strings.Contains(e.Value, "$(") {
						t.Errorf("%s %s: %s is set in the manifest, want it from a Secret", w.kind, w.name, e.Name)
					}
				}
				ref := e.ValueFrom
				if ref == nil || ref.SecretKeyRef == nil {
					continue
				}
				keys, ok := created[ref.SecretKeyRef.Name]
				optional := ref.SecretKeyRef.Optional != nil && *ref.SecretKeyRef.Optional
				switch {
				case !ok || !slices.Contains(keys, ref.SecretKeyRef.Key):
					t.Errorf("%s %s: %s reads key %q of Secret %q, which README.md's commands do not create", w.kind, w.name, e.Name, ref.SecretKeyRef.Key, ref.SecretKeyRef.Name)
				case optional != (ref.SecretKeyRef.Name == "nodered-admin"):
					// Only the editor's password may be left out: the
					// admin then generates a one-time one.
					t.Errorf("%s %s: %s: Secret %q optional %v, want optional only for nodered-admin", w.kind, w.name, e.Name, ref.SecretKeyRef.Name, optional)
				}
			}
		}
	}
	files, _ := filepath.Glob("*.yaml")
	files = append(files, "../../docker-compose.yml")
	for _, f := range files {
		data, _ := os.ReadFile(f)
		for _, bad := range []*regexp.Regexp{
			regexp.MustCompile(`\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}`),               // a bcrypt hash
			regexp.MustCompile(`(?i)replace[-_ ]?(with|me)|changeme|placeholder`), // a placeholder that would pass
			regexp.MustCompile(`(?m)^\s*kind:\s*Secret\s*$`),
			regexp.MustCompile(`(?i)(stringData|requirepass)`),
		} {
			if m := bad.Find(data); m != nil {
				t.Errorf("%s holds %q: no secret or placeholder ships", f, m)
			}
		}
	}
}

// TestNetworkPolicies: every pod is isolated for ingress; Valkey admits
// only flowhist's pods, flowhist only the Node-RED pods and the monitoring
// namespace, each on its one port.
func TestNetworkPolicies(t *testing.T) {
	objs := load(t)
	var policies []*networkingv1.NetworkPolicy
	for _, o := range objs {
		if p, ok := o.value.(*networkingv1.NetworkPolicy); ok {
			policies = append(policies, p)
		}
	}
	pods := map[string]labels.Set{}
	for _, w := range workloads(objs) {
		pods[w.name] = w.pod.Labels
	}
	allowed := map[string]struct {
		pods       []string
		namespaces []string
		port       string
	}{
		"valkey":   {pods: []string{"flowhist"}, port: "valkey"},
		"flowhist": {pods: []string{"nodered-admin", "nodered-workers"}, namespaces: []string{"monitoring"}, port: "http"},
	}
	for name, l := range pods {
		t.Run(name, func(t *testing.T) {
			var applied []*networkingv1.NetworkPolicy
			for _, p := range policies {
				if selects(t, &p.Spec.PodSelector, l) && slices.Contains(p.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
					applied = append(applied, p)
				}
			}
			if len(applied) == 0 {
				t.Fatal("no NetworkPolicy isolates these pods")
			}
			want, restricted := allowed[name]
			if !restricted {
				return
			}
			var gotPods, gotNS []string
			for _, p := range applied {
				for _, rule := range p.Spec.Ingress {
					if len(rule.From) == 0 {
						t.Errorf("NetworkPolicy %s admits anyone", p.Name)
					}
					if len(rule.Ports) != 1 || rule.Ports[0].Port == nil || rule.Ports[0].Port.String() != want.port {
						t.Errorf("NetworkPolicy %s: ports %+v, want only %q", p.Name, rule.Ports, want.port)
					}
					for _, peer := range rule.From {
						switch {
						case peer.IPBlock != nil:
							t.Errorf("NetworkPolicy %s admits an IP block", p.Name)
						case peer.NamespaceSelector != nil && peer.PodSelector == nil:
							gotNS = append(gotNS, peer.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"])
							if len(peer.NamespaceSelector.MatchLabels) != 1 || len(peer.NamespaceSelector.MatchExpressions) != 0 {
								t.Errorf("NetworkPolicy %s: namespace selector %+v, want one namespace by name", p.Name, peer.NamespaceSelector)
							}
						case peer.NamespaceSelector == nil && peer.PodSelector != nil:
							n := 0
							for other, ol := range pods {
								if selects(t, peer.PodSelector, ol) {
									gotPods = append(gotPods, other)
									n++
								}
							}
							if n == 0 {
								t.Errorf("NetworkPolicy %s: peer %+v selects no pod here", p.Name, peer.PodSelector)
							}
						default:
							t.Errorf("NetworkPolicy %s: peer %+v, want pods of this namespace or one namespace", p.Name, peer)
						}
					}
				}
			}
			slices.Sort(gotPods)
			if !slices.Equal(slices.Compact(gotPods), want.pods) || !slices.Equal(gotNS, want.namespaces) {
				t.Fatalf("admitted pods %v and namespaces %v, want %v and %v", gotPods, gotNS, want.pods, want.namespaces)
			}
		})
	}
}
