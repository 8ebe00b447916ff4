package proc

import (
	"os"
	"testing"
)

func TestMeter(t *testing.T) {
	// This process is both the client and the "server".
	m, err := StartMeter(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	burnCPU()
	used, ok, err := m.Server()
	if err != nil || !ok || used <= 0 {
		t.Fatalf("server CPU %v %v %v", used, ok, err)
	}
	self, err := m.Client()
	if err != nil || self <= 0 {
		t.Fatalf("client CPU %v %v", self, err)
	}
	m, err = StartMeter(0)
	if err != nil {
		t.Fatal(err)
	}
	if used, ok, err := m.Server(); ok || used != 0 || err != nil {
		t.Fatalf("server CPU without a pid: %v %v %v", used, ok, err)
	}
	if _, err := StartMeter(-1); err == nil {
		t.Fatal("StartMeter(-1) succeeded")
	}
}
