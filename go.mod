module github.com/wkssvcd/wkssvcd

go 1.26.8

require (
	github.com/oiweiwei/go-msrpc v1.5.2 // indirect
	golang.org/x/crypto v0.58.0 // indirect
)
