package client

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
)

// systemRequest sends a system request (configure-session, describe,
// request-nonce, login, …). Like the npm client it carries the session id
// it already holds, even on a new socket after a reconnect.
func (c *Client) systemRequest(ctx context.Context, cn *conn, action string, data any, options map[string]any) (*response, error) {
	req := &request{Action: action, Data: data, Options: options}
	c.mu.Lock()
	if c.session != nil {
		req.SessionID = c.session.ID
	}
	c.mu.Unlock()
	return c.roundTrip(ctx, cn, req)
}

// handshake runs configure-session → describe → [request-nonce] → login.
func (c *Client) handshake(ctx context.Context, cn *conn) (*Session, ServerInfo, error) {
	var info ServerInfo
	_, err := c.systemRequest(ctx, cn, "configure-session", map[string]any{
		"protocol": ProtocolVersion, "version": ClientVersion, "browser": false,
	}, nil)
	if err != nil {
		return nil, info, err
	}
	resp, err := c.systemRequest(ctx, cn, "describe", nil, nil)
	if err != nil {
		return nil, info, err
	}
	if !resp.dataIsNull() {
		if err := json.Unmarshal(resp.data, &info); err != nil {
			return nil, info, fmt.Errorf("happn client: decode describe reply: %w", err)
		}
	}
	creds, err := c.credentials(ctx, cn, info.Secure)
	if err != nil {
		return nil, info, err
	}
	resp, err = c.systemRequest(ctx, cn, "login", creds, map[string]any{"timeout": c.opts.CallTimeout.Milliseconds()})
	if err != nil {
		return nil, info, err
	}
	if resp.dataIsNull() {
		return nil, info, errors.New("happn client: login reply has no session")
	}
	sess := &Session{}
	if err := json.Unmarshal(resp.data, sess); err != nil {
		return nil, info, fmt.Errorf("happn client: decode session: %w", err)
	}
	if sess.ID == "" {
		return nil, info, errors.New("happn client: login reply has no session id")
	}
	sess.Raw = append(json.RawMessage(nil), resp.data...)
	return sess, info, nil
}

// credentials builds the login data, doing the nonce exchange for a
// keypair login.
func (c *Client) credentials(ctx context.Context, cn *conn, secure bool) (map[string]any, error) {
	o := c.opts
	info := map[string]any{}
	maps.Copy(info, o.Info)
	info["_browser"] = false
	info["_local"] = false
	creds := map[string]any{"info": info, "protocol": ProtocolVersion}
	if o.Username != "" {
		creds["username"] = o.Username
	}
	if o.AuthType != "" {
		creds["authType"] = o.AuthType
	}
	switch {
	case o.Password != "":
		creds["password"] = o.Password
	case o.Token != "":
		creds["token"] = o.Token
	case secure && c.privateKey != nil:
		if o.Username == "" {
			return nil, errors.New("happn client: a keypair login needs a Username")
		}
		resp, err := c.systemRequest(ctx, cn, "request-nonce", map[string]any{"publicKey": c.publicKey}, nil)
		if err != nil {
			return nil, err
		}
		var n struct {
			Nonce string `json:"nonce"`
		}
		if err := json.Unmarshal(resp.data, &n); err != nil || n.Nonce == "" {
			if raw, ok := resp.top["nonce"]; ok {
				_ = json.Unmarshal(raw, &n.Nonce)
			}
		}
		if n.Nonce == "" {
			return nil, errors.New("happn client: request-nonce reply has no nonce")
		}
		digest, err := signNonce(c.privateKey, n.Nonce)
		if err != nil {
			return nil, err
		}
		creds["publicKey"] = c.publicKey
		creds["loginType"] = "digest"
		creds["digest"] = digest
	case secure && o.Username != "_ANONYMOUS":
		return nil, errors.New("happn client: the server is secure: give a Password, a Token or a PrivateKey")
	}
	if secure && o.Username == "" && o.Token == "" {
		return nil, errors.New("happn client: the server is secure: give a Username or a Token")
	}
	return creds, nil
}

// signNonce signs the base64-decoded nonce with RSASSA-PKCS1-v1_5 over
// SHA-256 and returns the signature in base64.
func signNonce(key *rsa.PrivateKey, nonce string) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(nonce)
	if err != nil {
		return "", fmt.Errorf("happn client: nonce is not base64: %w", err)
	}
	sum := sha256.Sum256(raw)
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("happn client: sign nonce: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// parsePrivateKey reads an RSA private key in PKCS#1 or PKCS#8 PEM.
func parsePrivateKey(p string) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(p))
	if block == nil {
		return nil, errors.New("happn client: PrivateKey is not PEM")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("happn client: parse PrivateKey: %w", err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("happn client: PrivateKey is not an RSA key")
	}
	return rk, nil
}

// publicKeyPEM encodes the public half as "RSA PUBLIC KEY" (PKCS#1) PEM,
// the format happn-3 uses.
func publicKeyPEM(k *rsa.PrivateKey) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.PublicKey)}))
}
