// Package domaintest makes realistic Node-RED flows documents for tests and
// benchmarks of every package, so that all of them measure the same shape of
// data.
package domaintest
