package sdk

import (
	"fmt"
	"slices"

	outputv1 "github.com/rgap-project/rgap/proto/rgap/output/v1"
)

// GroupsUpdater may be implemented by an Output that keeps something it
// derived from Config.Groups in New beyond checking its spec (the log
// output keeps the list of groups it dumps). When the listener's groups
// change while the output runs (a reload), the SDK calls UpdateGroups with
// the new complete list, from the stream goroutine and before the fresh
// snapshot that follows the new list reaches the mirror and the handlers,
// so it must return quickly. Returning an error makes the plugin exit; the
// host then starts it again, configured with the new list.
//
// An Output that reads the groups only from Env.Groups, or uses
// Config.Groups only to check its spec, needs nothing: the SDK updates the
// mirror's group list itself (WaitReady knows new groups), and the
// listener checks every spec against the new list before it reloads.
type GroupsUpdater interface {
	UpdateGroups(groups []GroupInfo) error
}

// applyGroupList takes a new group list from the host (see
// CAPABILITY_GROUP_UPDATES): the mirror learns which groups the output now
// hears about, and an Output implementing GroupsUpdater gets the list. The
// output's subscription stays; a subscribed group the list lacks is an
// error naming it.
func (p *streamProc) applyGroupList(seq uint64, list *outputv1.GroupList) error {
	groups := groupsFromWire(list.GetGroups())
	ids := make([]uint64, 0, len(groups))
	for _, g := range groups {
		ids = append(ids, g.ID)
	}
	if p.subAll {
		p.mirror.setKnown(ids)
	} else {
		for _, id := range p.subs {
			if !slices.Contains(ids, id) {
				return fmt.Errorf("seq %d: the new group list lacks group %d, which the output subscribed to: %w", seq, id, ErrUnknownGroup)
			}
		}
	}
	p.svc.log.Debug("took a new group list", "seq", seq, "groups", len(groups))
	u, ok := p.svc.output().(GroupsUpdater)
	if !ok {
		return nil
	}
	if err := u.UpdateGroups(slices.Clone(groups)); err != nil {
		err = fmt.Errorf("output %q cannot take the new group list: %w", p.svc.plugin.Name, err)
		p.svc.fail(err)
		return err
	}
	return nil
}

// output returns the configured Output.
func (s *service) output() Output {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out
}
