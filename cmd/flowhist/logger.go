package main

import (
	"fmt"
	"os"

	"github.com/flowhist/flowhist/domain"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// newLogger builds the service's logger: human-readable on a terminal, JSON
// otherwise (format "auto"), or as configured.
func newLogger(format, level string) (*zap.Logger, error) {
	var lvl zapcore.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, &domain.Error{Code: domain.EINVALID, Message: fmt.Sprintf("log.level %q is not one of debug, info, warn, error", level)}
	}
	switch format {
	case "auto":
		if isTerminal(os.Stderr) {
			format = "console"
		} else {
			format = "json"
		}
	case "console", "json":
	default:
		return nil, &domain.Error{Code: domain.EINVALID, Message: fmt.Sprintf("log.format %q is not one of auto, console, json", format)}
	}
	var cfg zap.Config
	if format == "console" {
		cfg = zap.NewDevelopmentConfig()
		cfg.EncoderConfig.EncodeLevel = zapcore.CapitalColorLevelEncoder
		cfg.Development = false
	} else {
		cfg = zap.NewProductionConfig()
		cfg.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	}
	cfg.Level = zap.NewAtomicLevelAt(lvl)
	cfg.DisableStacktrace = true
	return cfg.Build()
}
