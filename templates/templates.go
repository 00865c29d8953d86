package templates

import (
	"bytes"
	"embed"
	"fmt"
	"io"
	"os"
	"text/template"
)

//go:embed *.tmpl
var files embed.FS

// builtinName is the file of the built-in template.
const builtinName = "sbatch.tmpl"

var funcs = template.FuncMap{
	"sbatch": sbatchQuote,
	"shq":    shq,
	"shjoin": shjoin,
}

var builtin = template.Must(template.New(builtinName).Funcs(funcs).ParseFS(files, builtinName))

// Builtin returns the source of the built-in sbatch template, for users who
// start a custom one from it.
func Builtin() string {
	b, err := files.ReadFile(builtinName)
	if err != nil {
		panic(err) // embedded at build time
	}
	return string(b)
}

// Render writes the sbatch script of data to w. custom is the path of a
// user's template file, or "" for the built-in one. Render checks data
// first, and writes nothing unless the whole script renders.
func Render(w io.Writer, data Script, custom string) error {
	if err := data.validate(); err != nil {
		return err
	}
	t := builtin
	if custom != "" {
		src, err := os.ReadFile(custom)
		if err != nil {
			return fmt.Errorf("templates: read custom template: %w", err)
		}
		// Named by its path, so that errors say "template: PATH:LINE: ...".
		t, err = template.New(custom).Funcs(funcs).Parse(string(src))
		if err != nil {
			return fmt.Errorf("templates: parse custom template: %w", err)
		}
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return fmt.Errorf("templates: render: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}
