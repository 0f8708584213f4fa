// Package kubernetes holds flowhist's Kubernetes manifests (the YAML files
// beside this one); its test decodes each strictly as the Kubernetes object
// of its kind and checks that they fit together, without a cluster.
package kubernetes
