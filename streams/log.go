package streams

import (
	"github.com/flowhist/flowhist/domain"
	"go.uber.org/zap"
)

func zapNS(ns string) zap.Field            { return zap.String("ns", ns) }
func zapRev(rev domain.Revision) zap.Field { return zap.Uint64("rev", uint64(rev)) }
func zapErr(err error) zap.Field           { return zap.Error(err) }
