package cfsim_test

import (
	"encoding/pem"
	"io"
	"log"
)

func quietLog() *log.Logger { return log.New(io.Discard, "", 0) }

func pemDecode(b []byte) ([]byte, []byte) {
	blk, rest := pem.Decode(b)
	if blk == nil {
		return nil, rest
	}
	return blk.Bytes, rest
}
