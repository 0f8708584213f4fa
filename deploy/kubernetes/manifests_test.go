package kubernetes_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
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
	"v1 Secret":                                     func() any { return new(corev1.Secret) },
	"policy/v1 PodDisruptionBudget":                 func() any { return new(policyv1.PodDisruptionBudget) },
	"autoscaling/v2 HorizontalPodAutoscaler":        func() any { return new(autoscalingv2.HorizontalPodAutoscaler) },
	"kustomize.config.k8s.io/v1beta1 Kustomization": nil, // checked by TestKustomizationListsEveryFile
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
		if sc := fh.Spec.Template.Spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
			t.Fatal("flowhist must run as non-root")
		}
	})
	t.Run("TokensFromTheSecret", func(t *testing.T) {
		secret := find[corev1.Secret](t, objs, "flowhist")
		for _, o := range objs {
			var pod *corev1.PodTemplateSpec
			switch v := o.value.(type) {
			case *appsv1.Deployment:
				pod = &v.Spec.Template
			case *appsv1.StatefulSet:
				pod = &v.Spec.Template
			default:
				continue
			}
			for _, c := range pod.Spec.Containers {
				for _, e := range c.Env {
					if strings.Contains(strings.ToLower(e.Name), "token") && e.Value != "" && !strings.Contains(e.Value, "$(") {
						t.Errorf("%s %s: %s is set in the manifest, want it from the Secret", o.kind, o.name, e.Name)
					}
					if ref := e.ValueFrom; ref != nil && ref.SecretKeyRef != nil {
						if ref.SecretKeyRef.Name != secret.Name {
							t.Errorf("%s %s: %s refers to Secret %q", o.kind, o.name, e.Name, ref.SecretKeyRef.Name)
						}
						if _, ok := secret.StringData[ref.SecretKeyRef.Key]; !ok {
							t.Errorf("%s %s: %s refers to key %q, which the Secret lacks", o.kind, o.name, e.Name, ref.SecretKeyRef.Key)
						}
					}
				}
			}
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
