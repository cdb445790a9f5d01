package sdk

import (
	"fmt"

	outputv1 "github.com/rgap-project/rgap/proto/rgap/output/v1"
	"github.com/rgap-project/rgap/sdk/internal/inprocess"
)

func init() {
	inprocess.NewServer = func(p any, o inprocess.Options) outputv1.OutputServiceServer {
		pl, ok := p.(Plugin)
		if !ok {
			panic(fmt.Sprintf("inprocess.NewServer: want an sdk.Plugin, got %T", p))
		}
		return newService(pl, o.Log, o.Exit)
	}
	inprocess.DecodeSpec = func(spec []byte, file string, line int, v any) error {
		doc := parseSpec(spec, file, line)
		return decodeSpec(&doc, v)
	}
}
