package happn

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

func TestHTTPSTransport(t *testing.T) {
	certPEM, keyPEM := selfSigned(t)
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certPath, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]TransportConfig{
		"files":  {Mode: "https", CertPath: certPath, KeyPath: keyPath},
		"inline": {Mode: "https", Cert: string(certPEM), Key: string(keyPEM)},
	} {
		t.Run(name, func(t *testing.T) {
			srv := startServer(t, Config{Transport: tc})
			d := websocket.Dialer{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
			ws, _, err := d.Dial("wss://"+srv.Addr()+"/primus", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer ws.Close()
			c := &rawClient{t: t, ws: ws}
			c.send(`{"action":"describe","eventId":1,"data":null}`)
			if m := meta(c.recvJSON()); m["status"] != "ok" {
				t.Fatalf("describe over wss: %v", m)
			}
		})
	}
	if _, err := (TransportConfig{Mode: "https", Cert: string(certPEM)}).tlsConfig(); err == nil || err.Error() != "happn: key file missing for cert" {
		t.Fatalf("cert without key: %v", err)
	}
	if _, err := (TransportConfig{Mode: "https", CertPath: "/nope", KeyPath: keyPath}).tlsConfig(); err == nil {
		t.Fatal("missing cert file accepted")
	}
}

func TestUnknownTransportMode(t *testing.T) {
	srv, err := New(Config{Transport: TransportConfig{Mode: "carrier-pigeon"}, Host: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop(t.Context())
	if err := srv.Start(t.Context()); err == nil || err.Error() != "happn: unknown transport mode: carrier-pigeon can only be http or https" {
		t.Fatalf("got %v", err)
	}
}
