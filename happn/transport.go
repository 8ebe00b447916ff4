package happn

import (
	"crypto/tls"
	"fmt"
	"os"
)

// tlsConfig builds the TLS configuration of an https transport from the
// inline certificate and key, or from the files they name.
func (t TransportConfig) tlsConfig() (*tls.Config, error) {
	certPEM, keyPEM := []byte(t.Cert), []byte(t.Key)
	switch {
	case t.Cert != "" && t.Key == "":
		return nil, fmt.Errorf("happn: key file missing for cert")
	case t.Key != "" && t.Cert == "":
		return nil, fmt.Errorf("happn: cert file missing key")
	case t.Cert == "":
		if t.CertPath == "" || t.KeyPath == "" {
			return nil, fmt.Errorf("happn: https needs cert and key, or certPath and keyPath")
		}
		var err error
		if certPEM, err = os.ReadFile(t.CertPath); err != nil {
			return nil, fmt.Errorf("happn: missing cert file: %s: %w", t.CertPath, err)
		}
		if keyPEM, err = os.ReadFile(t.KeyPath); err != nil {
			return nil, fmt.Errorf("happn: missing key file: %s: %w", t.KeyPath, err)
		}
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("happn: loading certificate: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}
