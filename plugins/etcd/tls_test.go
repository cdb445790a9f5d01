package etcd

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/rgap-project/rgap/plugins/etcd/etcdtest"
	"github.com/rgap-project/rgap/sdk/sdktest"
)

// testPKI writes a CA, a server certificate for 127.0.0.1 and a client
// certificate (each with its key) as PEM files into dir.
type testPKI struct {
	ca, serverCert, serverKey, clientCert, clientKey string
	clientTLS                                        *tls.Config
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "rgap test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	p := testPKI{ca: filepath.Join(dir, "ca.pem")}
	writePEM(t, p.ca, "CERTIFICATE", caDER)
	leaf := func(serial int64, name string, usage x509.ExtKeyUsage) (string, string) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		cert, k := filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
		writePEM(t, cert, "CERTIFICATE", der)
		writePEM(t, k, "EC PRIVATE KEY", keyDER)
		return cert, k
	}
	p.serverCert, p.serverKey = leaf(2, "server", x509.ExtKeyUsageServerAuth)
	p.clientCert, p.clientKey = leaf(3, "client", x509.ExtKeyUsageClientAuth)
	pair, err := tls.LoadX509KeyPair(p.clientCert, p.clientKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	p.clientTLS = &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	return p
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	writeFile(t, path, string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})))
}

// TestTLSClientCertificate: against a server that demands client
// certificates, the output publishes with ca_file, cert_file and key_file,
// and without a client certificate it is refused and keeps retrying.
func TestTLSClientCertificate(t *testing.T) {
	p := newTestPKI(t)
	f := fixtureOf(etcdtest.StartTLS(t, p.serverCert, p.serverKey, p.ca, p.clientTLS))
	h := f.start(t, "lb1", "ca_file: "+p.ca+"\ncert_file: "+p.clientCert+"\nkey_file: "+p.clientKey+"\n", 7)
	joinReady(h, 7, "10.0.0.1")
	sdktest.Eventually(t, "published over TLS", func() bool { return len(f.keys(t, "/rgap/groups/7/")) == 2 })
	h.Stop()

	h = f.start(t, "lb2", "ca_file: "+p.ca+"\n", 7)
	joinReady(h, 7, "10.0.0.2")
	waitLog(t, h, "etcd unreachable, will retry")
	if keys := f.keys(t, "/rgap/groups/7/members/lb2/"); len(keys) != 0 {
		t.Errorf("published without a client certificate: %v", keys)
	}
}
