//go:build tools

// This file pins modules that metalab's packages import, so that `go mod tidy`
// keeps them while the packages that use them are being written.
package main

import (
	_ "github.com/BurntSushi/toml"
	_ "github.com/mattn/go-sqlite3"
	_ "github.com/rogpeppe/go-internal/testscript"
	_ "github.com/rs/zerolog"
	_ "github.com/schollz/progressbar/v3"
	_ "github.com/urfave/cli/v2"
	_ "golang.org/x/term"
)
