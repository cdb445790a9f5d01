package config

import (
	"errors"

	"gopkg.in/yaml.v3"

	"github.com/rgap-project/rgap/sdk/yamlwalk"
)

// parseDocuments decodes the single document of src. It reports a
// problem and returns nil when there is not exactly one document.
//
// yaml.v3 often names the line where the enclosing block of a syntax error
// began, so the error is reported at the line yamlwalk.Parse finds again:
// the first one after the longest leading part of the file that parses.
func (d *decoder) parseDocuments() *yaml.Node {
	doc, err := yamlwalk.Parse(d.src)
	var syntax *yamlwalk.SyntaxError
	var second *yamlwalk.SecondDocumentError
	switch {
	case errors.As(err, &syntax):
		d.errs = append(d.errs, &Error{Pos: Pos{File: d.path, Line: syntax.Line},
			Err: &problem{kind: ErrSyntax, msg: syntax.Error()}})
	case errors.As(err, &second):
		d.fail(second.Doc, "", ErrMultipleDocuments, nil,
			"a second YAML document starts here; the configuration must be a single document")
	case err != nil:
		d.fail(nil, "", ErrSyntax, err, "")
	case doc == nil:
		d.fail(nil, "", ErrEmpty, nil, "configuration is empty")
	}
	if err != nil {
		return nil
	}
	return doc
}
