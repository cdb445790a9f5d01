// Package yamlwalk is the strict-YAML walker shared by the listener's
// configuration decoder (internal/config) and the plugin SDK's spec decoder
// (sdk.Config.Decode). Both read a yaml.v3 node tree by hand, so that every
// problem names its line and key path and no problem is passed over; this
// package holds what the two have in common:
//
//   - Parse: one document, parser panics turned into errors, and a syntax
//     error's real line (yaml.v3 often names where the enclosing block
//     began);
//   - IsNull, Deref, Describe and DescribeTyped: the null test, alias
//     following and the "got ..." part of a message, which never repeats
//     more than the first 8 characters of a value (see internal/redact);
//   - Mappings.Pairs: a mapping's entries with merge keys ("<<") applied,
//     duplicate and non-string keys reported, in time linear in the file;
//   - JoinKey, Index, ParseKeyPath and LineOf: the key paths errors name
//     ("mappings[0].group", `domains["a.example"]`) and the line one names.
//
// What a key means, and how a problem is worded and reported, stays with
// the caller.
package yamlwalk
