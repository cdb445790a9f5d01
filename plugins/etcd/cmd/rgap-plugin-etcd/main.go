// Command rgap-plugin-etcd is the etcd output of rgap as an out-of-tree
// plugin executable: install it in the listener's plugins directory
// (/usr/lib/rgap/plugins by default) and configure an output of kind etcd.
// See plugins/etcd/README.md.
package main

import (
	"github.com/rgap-project/rgap/plugins/etcd"
	"github.com/rgap-project/rgap/sdk"
)

func main() { sdk.Serve(etcd.Plugin) }
