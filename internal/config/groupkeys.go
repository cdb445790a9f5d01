package config

import (
	"gopkg.in/yaml.v3"

	"github.com/rgap-project/rgap/internal/protocol"
)

// GroupKey is one of a group's keys: the PSK agents sign with and the id
// protocol v2 datagrams name it by.
type GroupKey struct {
	// ID is the key id, 0–255 (the v2 wire carries a u8). A group's psk
	// is key 0.
	ID uint8
	// PSK is the key.
	PSK protocol.PSK
	// Pos is where the key's id is written (for the psk, the psk).
	Pos Pos
	// key is the entry's path for messages, groups[0].keys[1].
	key string
}

// maxKeyID is the largest key id: the v2 wire carries it as a u8.
const maxKeyID = 255

// keyList decodes a group's `keys` list: each entry a mapping of `id` and
// `psk`, both required. ok is false when any entry had a problem. Errors
// name file:line:column and the key (groups[0].keys[1].psk) and never
// repeat a PSK.
func (d *decoder) keyList(f field, path string) (keys []GroupKey, ok bool) {
	key := dotted(path, f.name)
	v := deref(f.value)
	if isNull(v) || v.Kind != yaml.SequenceNode {
		d.fail(f.value, key, ErrType, nil, "want a list of {id, psk} mappings, got %s", describe(v))
		return nil, false
	}
	ok = true
	for i, item := range v.Content {
		entryOK := true
		kpath := indexed(key, i)
		fields, good := d.mapping(item, kpath)
		if !good {
			ok = false
			continue
		}
		k := GroupKey{Pos: d.pos(deref(item)), key: kpath}
		var seenID, seenPSK bool
		for _, kf := range fields {
			fkey := dotted(kpath, kf.name)
			switch kf.name {
			case "id":
				seenID = true
				k.Pos = d.pos(kf.value)
				id, good := d.unsigned(kf.value, fkey)
				if good && id > maxKeyID {
					d.fail(kf.value, fkey, ErrValue, nil, "key id %d is out of range: 0 to %d (protocol v2 carries it in one byte)", id, maxKeyID)
					good = false
				}
				k.ID = uint8(id)
				entryOK = entryOK && good
			case "psk":
				seenPSK = true
				entryOK = d.psk(kf.value, fkey, &k.PSK) && entryOK
			default:
				d.fail(kf.key, kpath, ErrUnknownKey, nil, "unknown key %s%s", quote(kf.name), suggest(kf.name, keyEntryKeys))
				entryOK = false
			}
		}
		for _, req := range []struct {
			name string
			seen bool
		}{{"id", seenID}, {"psk", seenPSK}} {
			if !req.seen {
				d.fail(item, kpath, ErrMissingKey, nil, "missing required key %q", req.name)
				entryOK = false
			}
		}
		if entryOK {
			keys = append(keys, k) // only good entries take part in the duplicate check
		}
		ok = ok && entryOK
	}
	if len(v.Content) == 0 {
		d.fail(f.value, key, ErrMissingKey, nil, "the list is empty: give at least one key, or leave keys out and give psk")
		ok = false
	}
	return keys, ok
}

// keyEntryKeys are the keys of one `keys` entry, for suggestions.
var keyEntryKeys = []string{"id", "psk"}

// groupKeySet combines a group's psk (key 0, when pskNode is not nil) and
// its keys list into g.Keys, psk first. (A group with neither is refused
// by the caller as missing psk.) A key id given twice, id 0 in keys beside
// psk included, is an error at the second one.
func (d *decoder) groupKeySet(g *Group, pskNode *yaml.Node, list []GroupKey) bool {
	var all []GroupKey
	if pskNode != nil {
		all = append(all, GroupKey{ID: 0, PSK: g.PSK, Pos: d.pos(pskNode)})
	}
	ok := true
	for _, k := range list {
		for j, o := range all {
			if o.ID == k.ID {
				what := o.Pos.String()
				if j == 0 && pskNode != nil {
					what = "psk at " + what + ", which is key 0"
				}
				d.failAt(k.Pos, dotted(k.key, "id"), ErrDuplicate, "duplicate key id %d (first: %s)", k.ID, what)
				ok = false
			}
		}
		all = append(all, k)
	}
	g.Keys = all
	return ok
}

// failAt records a problem at a position already known.
func (d *decoder) failAt(p Pos, key string, kind error, format string, args ...any) {
	d.fail(nil, key, kind, nil, format, args...)
	d.errs[len(d.errs)-1].Pos = p
}
