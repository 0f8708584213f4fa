// Package checkpoint is the format of flowhist's signed checkpoints: a
// statement, signed with Ed25519, that a namespace's log had, at a time, a
// revision whose hash-chain link was a given value (streams/chain.go). Kept
// where Valkey's operators cannot write, checkpoints let flowhist verify
// prove that the log still holds, byte for byte, every event they cover,
// even after a rewrite of the whole chain or a restore of every key.
//
// It also owns the files: the key pair flowhist keygen writes (PEM, PKCS #8
// private key with mode 0600, PKIX public key) and the JSON lines flowhist
// checkpoint export writes and verify --checkpoints reads. It imports only
// the standard library and domain.
package checkpoint
