module github.com/happner-go/happner/interop

go 1.26
