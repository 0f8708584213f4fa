package main

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/viper"
)

// TestExampleFileListsEveryOption holds flowhist.example.yaml to the
// table of options: each option is in it at its default, or, for the
// options it leaves commented out (the CLI's), named by its variable with
// its default shown.
func TestExampleFileListsEveryOption(t *testing.T) {
	const file = "flowhist.example.yaml"
	text, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	v := viper.New()
	v.SetConfigFile(file)
	if err := v.ReadInConfig(); err != nil {
		t.Fatal(err)
	}
	var c config
	readOptions(v, &c)
	for _, o := range options(&c) {
		if !v.IsSet(o.key) {
			if !strings.Contains(string(text), o.envName()) {
				t.Errorf("%s: neither set nor its variable %s named", o.key, o.envName())
			}
			leaf := o.key[strings.LastIndex(o.key, ".")+1:]
			if d := reflect.ValueOf(o.def); d.IsValid() && !d.IsZero() && !strings.Contains(string(text), fmt.Sprintf("%s: %v", leaf, o.def)) {
				t.Errorf("%s: commented out without its default %v", o.key, o.def)
			}
			continue
		}
		var got any
		if o.into != nil {
			got = reflect.ValueOf(o.into).Elem().Interface()
		} else {
			got = v.Get(o.key) // a list
		}
		if !sameOption(got, o.def) {
			t.Errorf("%s: got %#v in %s, want the default %#v", o.key, got, file, o.def)
		}
	}
}

// sameOption reports whether an option read is its default: lists are
// the same when both are empty.
func sameOption(got, def any) bool {
	g, d := reflect.ValueOf(got), reflect.ValueOf(def)
	empty := func(v reflect.Value) bool { return !v.IsValid() || v.Kind() == reflect.Slice && v.Len() == 0 }
	if empty(g) && empty(d) {
		return true
	}
	return reflect.DeepEqual(got, def)
}

// TestOptionsFromTheEnvironment sets each string option by its variable:
// the table's names are the ones read.
func TestOptionsFromTheEnvironment(t *testing.T) {
	want := map[string]string{}
	for _, o := range options(&config{}) {
		if _, ok := o.into.(*string); ok {
			want[o.key] = "from-" + o.envName()
			t.Setenv(o.envName(), want[o.key])
		}
	}
	v := viper.New()
	v.SetEnvPrefix("FLOWHIST")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	setDefaults(v)
	bindOptions(v, nil)
	var c config
	readOptions(v, &c)
	for _, o := range options(&c) {
		if p, ok := o.into.(*string); ok && *p != want[o.key] {
			t.Errorf("%s: got %q, want %q from %s", o.key, *p, want[o.key], o.envName())
		}
	}
}
