package e2e

// End-to-end test of the outputs' own series (issue 10, part 1): the dns
// output's query counters, exported through the SDK, on the listener's
// /metrics labelled with the output.

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestPluginMetricsDNSQueries: after DNS queries to the dns output, the
// listener's /metrics serves rgap_output_dns_queries_total with the
// output's index and kind, counting each query exactly once.
func TestPluginMetricsDNSQueries(t *testing.T) {
	port, dnsPort := plugPorts(t)
	httpPort := freeTCPPort(t)
	cfg := plugConfig(port, "1h", fmt.Sprintf("http_listen: 127.0.0.1:%d\n", httpPort),
		"  - kind: eventlog\n"+plugDNSOutput(dnsPort))
	plugListener(t, cfg, nil)
	plugAnnounce(t, port, "192.0.2.10")
	plugWaitDNS(t, dnsPort, 20*time.Second, "192.0.2.10")

	url := fmt.Sprintf("http://127.0.0.1:%d/metrics", httpPort)
	const series = `rgap_output_dns_queries_total{kind="dns",output="1",rcode="NOERROR"}`
	body := metricsPoll(t, url, 10*time.Second, "the dns output's series", func(code int, body string) bool {
		return code == http.StatusOK && strings.Contains(body, series+" ")
	})
	before := metricsValue(t, body, series)
	if before < 1 {
		t.Fatalf("%s = %v after an answered query, want at least 1", series, before)
	}
	const queries = 5
	for range queries {
		if got, err := plugQueryA(dnsPort); err != nil || len(got) != 1 {
			t.Fatalf("query: %v %v", got, err)
		}
	}
	body = metricsPoll(t, url, 10*time.Second, "the queries counted", func(code int, body string) bool {
		return code == http.StatusOK && strings.Contains(body, fmt.Sprintf("%s %v\n", series, before+queries))
	})
	for _, s := range []string{
		`rgap_output_dns_queries_total{kind="dns",output="1",rcode="REFUSED"}`,
		`rgap_output_dns_truncated_answers_total{kind="dns",output="1"}`,
	} {
		if v := metricsValue(t, body, s); v != 0 {
			t.Errorf("%s = %v, want 0", s, v)
		}
	}
	if strings.Contains(body, "rgap_output_eventlog_") {
		t.Errorf("the eventlog output exports nothing, but /metrics has series for it:\n%s", body)
	}
}
