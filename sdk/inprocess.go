package sdk

import (
	outputv1 "github.com/rgap-project/rgap/proto/rgap/output/v1"
	"github.com/rgap-project/rgap/sdk/internal/inprocess"
)

// init lends sdktest the service and the decoder (see package inprocess for
// why they are registered rather than exported).
func init() {
	inprocess.Register(inprocess.Hooks[Plugin]{
		NewServer: func(p Plugin, o inprocess.Options) outputv1.OutputServiceServer {
			return newService(p, o.Log, o.Exit)
		},
		DecodeSpec: func(spec []byte, file string, line int, v any) error {
			doc := parseSpec(spec, file, line)
			return decodeSpec(&doc, v)
		},
	})
}
