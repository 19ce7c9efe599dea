package daemon

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/minipod/minipod/internal/atomicfile"
)

// kubeCreds are what the Kubernetes API serves with and what its clients
// present: a CA of the daemon's own, a serving certificate it signed for
// loopback, and a bearer token. They live under <root>/kubeapi, mode 0600,
// and are made once: a restarted daemon keeps them, so kubeconfigs stay
// valid.
type kubeCreds struct {
	caPEM  []byte
	cert   tls.Certificate
	token  string
	caPool *x509.CertPool
}

const (
	credsDir      = "kubeapi"
	caCertFile    = "ca.crt"
	caKeyFile     = "ca.key"
	servingCert   = "serving.crt"
	servingKey    = "serving.key"
	tokenFile     = "token"
	servingValid  = 365 * 24 * time.Hour
	caValid       = 10 * 365 * 24 * time.Hour
	renewServing  = 30 * 24 * time.Hour
	credsFileMode = 0o600
)

// servingNames are the names and addresses the serving certificate is valid
// for: the API only ever listens on loopback.
var (
	servingDNS = []string{"localhost"}
	servingIPs = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
)

// loadOrCreateCreds reads the credentials under root, creating what is
// missing; a serving certificate that expires within 30 days, or whose CA
// changed, is made again.
func loadOrCreateCreds(root string) (*kubeCreds, error) {
	dir := filepath.Join(root, credsDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("failed to create the credentials directory %q: %w", dir, err)
	}
	caCert, caKey, caPEM, err := loadOrCreateCA(dir)
	if err != nil {
		return nil, err
	}
	cert, err := loadServing(dir, caCert)
	if err != nil {
		if cert, err = createServing(dir, caCert, caKey); err != nil {
			return nil, err
		}
	}
	token, err := loadOrCreateToken(filepath.Join(dir, tokenFile))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return &kubeCreds{caPEM: caPEM, cert: cert, token: token, caPool: pool}, nil
}

func loadOrCreateCA(dir string) (*x509.Certificate, *ecdsa.PrivateKey, []byte, error) {
	certPath, keyPath := filepath.Join(dir, caCertFile), filepath.Join(dir, caKeyFile)
	certPEM, cerr := os.ReadFile(certPath)
	keyPEM, kerr := os.ReadFile(keyPath)
	if cerr == nil && kerr == nil {
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("failed to load the API's CA from %q: %w (remove %q to make a new one)", certPath, err, dir)
		}
		key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
		if !ok {
			return nil, nil, nil, fmt.Errorf("failed to load the API's CA from %q: its key is not ECDSA (remove %q to make a new one)", keyPath, dir)
		}
		return pair.Leaf, key, certPEM, nil
	}
	if !errors.Is(cerr, os.ErrNotExist) && cerr != nil {
		return nil, nil, nil, fmt.Errorf("failed to read %q: %w", certPath, cerr)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("failed to generate the API's CA key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "minipod-ca@" + fmt.Sprint(now.Unix())},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValid),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("failed to create the API's CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, err
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := writeKey(keyPath, key); err != nil {
		return nil, nil, nil, err
	}
	if err := writeCredFile(certPath, certPEM); err != nil {
		return nil, nil, nil, err
	}
	return cert, key, certPEM, nil
}

// loadServing loads the serving certificate if it is still good: signed by
// ca, valid for the loopback names, not about to expire.
func loadServing(dir string, ca *x509.Certificate) (tls.Certificate, error) {
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, servingCert), filepath.Join(dir, servingKey))
	if err != nil {
		return pair, err
	}
	leaf := pair.Leaf
	if err := leaf.CheckSignatureFrom(ca); err != nil {
		return pair, err
	}
	if time.Until(leaf.NotAfter) < renewServing {
		return pair, errors.New("expires soon")
	}
	for _, ip := range servingIPs {
		if err := leaf.VerifyHostname(ip.String()); err != nil {
			return pair, err
		}
	}
	return pair, nil
}

func createServing(dir string, ca *x509.Certificate, caKey *ecdsa.PrivateKey) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("failed to generate the API's serving key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "minipod-apiserver"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(servingValid),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     servingDNS,
		IPAddresses:  servingIPs,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("failed to create the API's serving certificate: %w", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := writeKey(filepath.Join(dir, servingKey), key); err != nil {
		return tls.Certificate{}, err
	}
	if err := writeCredFile(filepath.Join(dir, servingCert), certPEM); err != nil {
		return tls.Certificate{}, err
	}
	return tls.LoadX509KeyPair(filepath.Join(dir, servingCert), filepath.Join(dir, servingKey))
}

func loadOrCreateToken(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		token := strings.TrimSpace(string(data))
		if len(token) >= 32 {
			return token, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("failed to read the API token %q: %w", path, err)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("failed to generate the API token: %w", err)
	}
	token := hex.EncodeToString(b)
	if err := writeCredFile(path, []byte(token+"\n")); err != nil {
		return "", err
	}
	return token, nil
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fmt.Errorf("failed to encode key %q: %w", path, err)
	}
	return writeCredFile(path, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
}

// writeCredFile writes a credential 0600, atomically (a crash leaves the
// old file or the new one, never half of one).
func writeCredFile(path string, data []byte) error {
	return atomicfile.Write(path, data, credsFileMode)
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return n
}

// tokenOK compares a presented bearer token with the daemon's in constant
// time.
func (c *kubeCreds) tokenOK(header string) bool {
	const prefix = "Bearer "
	if len(header) <= len(prefix) || !strings.EqualFold(header[:len(prefix)], prefix) {
		return false
	}
	got := []byte(strings.TrimSpace(header[len(prefix):]))
	return subtle.ConstantTimeCompare(got, []byte(c.token)) == 1
}
