package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// parseDocuments decodes the single document of src. It reports a
// problem and returns nil when there is not exactly one document.
func (d *decoder) parseDocuments() (doc *yaml.Node) {
	dec := yaml.NewDecoder(bytes.NewReader(d.src))
	var first yaml.Node
	if err := safeDecode(dec, &first); err != nil {
		if errors.Is(err, io.EOF) {
			d.fail(nil, "", ErrEmpty, nil, "configuration is empty")
		} else {
			d.syntaxError(err)
		}
		return nil
	}
	var second yaml.Node
	switch err := safeDecode(dec, &second); {
	case errors.Is(err, io.EOF):
	case err != nil:
		d.syntaxError(err)
		return nil
	default:
		d.fail(&second, "", ErrMultipleDocuments, nil,
			"a second YAML document starts here; the configuration must be a single document")
		return nil
	}
	return &first
}

// safeDecode runs the YAML parser, turning a panic inside it into an
// error: a configuration file must never crash the daemon, whatever it
// holds.
func safeDecode(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: parser failure: %v", r)
		}
	}()
	return dec.Decode(n)
}

// yamlLine splits yaml.v3 error text into its line number and message.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError records a YAML syntax error. The line yaml.v3 puts in its
// message is often not the offending one (it names where the enclosing
// block started, sometimes counted from 0), and some messages have none,
// so the line is found again by syntaxLine; yaml.v3's line is the
// fallback when that would cost too much.
func (d *decoder) syntaxError(err error) {
	msg := scrubYAML(strings.TrimPrefix(err.Error(), "yaml: "))
	p := Pos{File: d.path}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	if line, ok := syntaxLine(d.src); ok {
		p.Line = line
	}
	d.errs = append(d.errs, &Error{Pos: p, Err: &problem{kind: ErrSyntax, msg: "invalid YAML: " + msg}})
}

// syntaxBudget bounds the bytes syntaxLine may parse in all.
const syntaxBudget = 8 << 20

// syntaxLine locates a syntax error in src, which does not parse: it is on
// the line after the longest run of whole leading lines that does parse.
// (The first prefix that fails is not the answer: cutting a file inside a
// quoted string or a flow list breaks it where nothing is wrong.) ok is
// false when the search would parse more than syntaxBudget bytes.
func syntaxLine(src []byte) (line int, ok bool) {
	starts := lineStarts(src)
	budget := syntaxBudget
	for k := len(starts) - 1; k > 0; k-- {
		prefix := src[:starts[k]] // lines 1..k
		if budget -= len(prefix); budget < 0 {
			return 0, false
		}
		if parses(prefix) {
			return k + 1, true
		}
	}
	return 1, true
}

// parses reports whether every YAML document in src parses.
func parses(src []byte) bool {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	for {
		var n yaml.Node
		err := safeDecode(dec, &n)
		if errors.Is(err, io.EOF) {
			return true
		}
		if err != nil {
			return false
		}
	}
}
