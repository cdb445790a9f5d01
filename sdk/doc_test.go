package sdk

import (
	"os"
	"regexp"
	"testing"
)

// TestDocGoLineMatchesModule: the go.mod the package doc tells plugin
// authors to write names the same go version as the rgap module, so an
// author who copies it can build against the SDK.
func TestDocGoLineMatchesModule(t *testing.T) {
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	modLine := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(mod)
	docLine := regexp.MustCompile(`(?m)^//\tgo (\S+)$`).FindSubmatch(doc)
	if modLine == nil || docLine == nil {
		t.Fatalf("go line not found: go.mod %q, doc.go %q", modLine, docLine)
	}
	if string(modLine[1]) != string(docLine[1]) {
		t.Errorf("doc.go shows go %s, go.mod says go %s", docLine[1], modLine[1])
	}
}
