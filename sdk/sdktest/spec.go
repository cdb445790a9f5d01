package sdktest

import (
	"fmt"
	"testing"
)

// DecodeSpec decodes spec into v exactly as sdk.Config.Decode does in the
// plugin (strictly, with the SDK's types), as if the spec started at line
// 1 of File; the test fails on any error. It is for unit tests of the
// checks a plugin makes after Decode, which get their error builder as a
// parameter (see Errorf) so that they run without an sdk.Config:
//
//	var sp spec
//	sdktest.DecodeSpec(t, "interval: 5s\n", &sp)
//	_, err := sp.validate(sdktest.Errorf)
//
// To see the diagnostics an operator would get, use Validate instead.
func DecodeSpec(t testing.TB, spec string, v any) {
	t.Helper()
	if err := hooks.DecodeSpec([]byte(spec), File, 1, v); err != nil {
		t.Fatalf("sdktest: decoding the spec: %v", err)
	}
}

// Errorf has the signature of sdk.Config.Errorf and returns the error
// "key: problem", without file and line, so that a unit test of validation
// code can compare messages without tracking lines. The problem is built
// with fmt.Errorf, so %w wraps as usual.
func Errorf(key, format string, args ...any) error {
	return fmt.Errorf("%s: %w", key, fmt.Errorf(format, args...))
}
