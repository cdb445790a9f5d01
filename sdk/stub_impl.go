package sdk

// TEMPORARY: placeholder bodies so that plugins can compile against the API
// while the SDK is being written. Replaced by the real implementation.

import (
	"context"

	"github.com/hashicorp/go-hclog"
)

type configImpl struct {
	groups []GroupInfo
	log    hclog.Logger
}

func (c *configImpl) decode(v any) error     { panic("unimplemented") }
func (c *configImpl) subscribe(ids []uint64) { panic("unimplemented") }

type mirrorImpl struct{}

func (m *mirrorImpl) members(group uint64) []Member                   { panic("unimplemented") }
func (m *mirrorImpl) ready(group uint64) bool                         { panic("unimplemented") }
func (m *mirrorImpl) waitReady(ctx context.Context, g []uint64) error { panic("unimplemented") }
func (m *mirrorImpl) onEvent(fn func(Event)) func()                   { panic("unimplemented") }
func (m *mirrorImpl) changed(groups []uint64) <-chan struct{}         { panic("unimplemented") }

// Serve runs the plugin; it is the whole main of a plugin binary.
func Serve(p Plugin) { panic("unimplemented") }
