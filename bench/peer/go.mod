// This file only fences node_modules (some npm packages ship .go files) off
// from the main module, so `go build ./...` and `go vet ./...` skip it.
module github.com/happner-go/happner/bench/peer

go 1.26
