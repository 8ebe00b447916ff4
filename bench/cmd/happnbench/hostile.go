package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/happner-go/happner/bench/internal/proc"
	"github.com/happner-go/happner/bench/internal/report"
)

// runHostile attacks the server the way its hardening tests do, at scale:
// cfg.hostileConns sockets each announce a 10 MB text frame and stall, and
// one socket floods pings without ever reading its pongs. Meanwhile an
// ordinary client keeps sending sets, one at a time, for the measured
// duration. The result is the server's peak RSS under attack and what the
// ordinary client got done.
func runHostile(ctx context.Context, cfg *config, name string) (*result, error) {
	if cfg.serverPID == 0 {
		return nil, errors.New("hostile needs --server-pid to read the server's RSS")
	}
	before, err := proc.RSS(cfg.serverPID)
	if err != nil {
		return nil, err
	}
	var stalled []net.Conn
	defer func() {
		for _, c := range stalled {
			_ = c.Close()
		}
	}()
	for range cfg.hostileConns {
		conn, err := rawWebsocket(ctx, cfg.Addr)
		if err != nil {
			return nil, fmt.Errorf("stalling socket: %w", err)
		}
		stalled = append(stalled, conn)
		if _, err := conn.Write(maskedHeader(0x1, 10<<20)); err != nil {
			return nil, fmt.Errorf("stalling socket: %w", err)
		}
	}

	attackCtx, stopAttack := context.WithCancel(ctx)
	defer stopAttack()
	var wg sync.WaitGroup
	var pings atomic.Int64
	flood, err := rawWebsocket(ctx, cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("ping flood socket: %w", err)
	}
	defer flood.Close()
	if tc, ok := flood.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096)
	}
	wg.Go(func() {
		payload := make([]byte, 125)
		ping := append(maskedHeader(0x9, len(payload)), payload...)
		var batch []byte
		for range 1000 {
			batch = append(batch, ping...)
		}
		for attackCtx.Err() == nil {
			_ = flood.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
			if _, err := flood.Write(batch); err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					continue // the server stopped reading us for now
				}
				return // closed by the server: the attack is over
			}
			pings.Add(1000)
		}
	})
	var peak atomic.Int64
	peak.Store(before)
	wg.Go(func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			if rss, err := proc.RSS(cfg.serverPID); err == nil && rss > peak.Load() {
				peak.Store(rss)
			}
			select {
			case <-attackCtx.Done():
				return
			case <-t.C:
			}
		}
	})

	c, err := cfg.dial(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("ordinary client during the attack: %w", err)
	}
	defer func() { _ = c.Close() }()
	res := cfg.newResult(name, c, 1)
	paths := keyPaths("/bench/hostile/", cfg.keys)
	err = measureOps(ctx, cfg, c, 1, func(i int64, buf []byte) (string, string, []byte) {
		return "set", paths[i%int64(len(paths))], cfg.payloadJSON(buf)
	}, res)
	stopAttack()
	wg.Wait()
	if err != nil {
		return nil, err
	}
	res.Conns = cfg.hostileConns
	res.Pings = pings.Load()
	res.RSSBeforeMB = report.Ptr(float64(before) / (1 << 20))
	res.RSSMB = report.Ptr(float64(peak.Load()) / (1 << 20))
	return res, nil
}

// rawWebsocket opens a websocket to /primus without any client library.
func rawWebsocket(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	req := "GET /primus?_primuscb=hostile HTTP/1.1\r\nHost: " + addr + "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte(req)); err != nil {
		conn.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(conn, 256)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		conn.Close()
		return nil, fmt.Errorf("upgrade answered %s", resp.Status)
	}
	_ = conn.SetDeadline(time.Time{})
	return conn, nil
}

// maskedHeader is the header of a final client frame announcing n bytes.
func maskedHeader(op byte, n int) []byte {
	b := []byte{0x80 | op}
	switch {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n <= 0xffff:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	var mask [4]byte
	_, _ = rand.Read(mask[:])
	return append(b, mask[:]...)
}
