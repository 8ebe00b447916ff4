package benchmesh

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestStartRejectsBadOptions(t *testing.T) {
	ctx := context.Background()
	if _, err := Start(ctx, Options{Port: 70000}); err == nil || !strings.Contains(err.Error(), "invalid port") {
		t.Fatalf("port 70000: %v", err)
	}
	if _, err := Start(ctx, Options{Secure: true}); err == nil || !strings.Contains(err.Error(), "admin password") {
		t.Fatalf("secure without password: %v", err)
	}
}

func TestStartDescribesCalc(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, err := Start(ctx, Options{Host: "127.0.0.1", Name: "calcMesh"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := m.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	}()
	if !strings.HasPrefix(m.Addr(), "127.0.0.1:") {
		t.Fatalf("addr %q", m.Addr())
	}
	if got, err := (Calc{}).Add(2, 3.5); err != nil || got != 5.5 {
		t.Fatalf("Add(2, 3.5) = %v, %v", got, err)
	}
	add, ok := (Calc{}).HappnerSchema().Schema.Methods["add"]
	if !ok || len(add.Parameters) != 2 || add.Parameters[0].Name != "a" || add.Parameters[1].Name != "b" {
		t.Fatalf("schema %+v", add)
	}
}
