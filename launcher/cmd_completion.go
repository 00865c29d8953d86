package launcher

import (
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"
)

// Shell completion: bash and zsh ask the program itself what may follow
// the words typed so far (urfave/cli answers when the last argument is
// --generate-bash-completion), so that completion follows the commands and
// flags of the binary at hand, a program of [Main] included; fish takes a
// fixed list of them, written from the same definitions.

// bashCompletion is urfave/cli's autocomplete/bash_autocomplete, for one
// program. PROG and FUNC stand for the program's name and a function name
// made of it.
const bashCompletion = `# bash completion for PROG: source <(PROG completion bash)
FUNC() {
  local cur words cword
  COMPREPLY=()
  cur="${COMP_WORDS[COMP_CWORD]}"
  if declare -F _init_completion >/dev/null 2>&1; then
    _init_completion -n "=:" || return
  else
    words=("${COMP_WORDS[@]}")
    cword=$COMP_CWORD
  fi
  local request=("${words[@]:0:$cword}")
  if [[ "$cur" == "-"* ]]; then
    request+=("$cur")
  fi
  local opts
  opts=$("${request[@]}" --generate-bash-completion 2>/dev/null)
  COMPREPLY=($(compgen -W "${opts}" -- "${cur}"))
  return 0
}
complete -o bashdefault -o default -o nospace -F FUNC PROG
`

// zshCompletion is urfave/cli's autocomplete/zsh_autocomplete, for one
// program.
const zshCompletion = `#compdef PROG
# zsh completion for PROG: source <(PROG completion zsh)
FUNC() {
  local -a opts
  local cur
  cur=${words[-1]}
  if [[ "$cur" == "-"* ]]; then
    opts=("${(@f)$(${words[@]:0:#words[@]-1} ${cur} --generate-bash-completion)}")
  else
    opts=("${(@f)$(${words[@]:0:#words[@]-1} --generate-bash-completion)}")
  fi
  if [[ "${opts[1]}" != "" ]]; then
    _describe 'values' opts
  else
    _files
  fi
}
compdef FUNC PROG
`

func (a *App) cmdCompletion() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script for bash, zsh or fish",
		ArgsUsage: "bash | zsh | fish",
		Description: "Prints a script that completes this program's commands and flags in the shell.\n" +
			"Load it in the running shell, or install it to load in every new one.\n\n" +
			"EXAMPLES:\n" +
			"   source <(metalab completion bash)\n" +
			"   metalab completion bash > ~/.local/share/bash-completion/completions/metalab\n" +
			"   metalab completion zsh > \"${fpath[1]}/_metalab\"\n" +
			"   metalab completion fish > ~/.config/fish/completions/metalab.fish",
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageErr(fmt.Sprintf("usage: %s completion bash|zsh|fish", a.Name), "completion takes one shell, got %d arguments", c.NArg())
			}
			return a.writeCompletion(c.App, c.Args().First(), a.Stdout)
		},
	}
}

// writeCompletion writes the completion script of shell to w.
func (a *App) writeCompletion(app *cli.App, shell string, w io.Writer) error {
	fn := "_" + strings.NewReplacer("-", "_", ".", "_").Replace(safeName(a.Name)) + "_complete"
	r := strings.NewReplacer("PROG", a.Name, "FUNC", fn)
	switch shell {
	case "bash":
		_, err := io.WriteString(w, r.Replace(bashCompletion))
		return err
	case "zsh":
		_, err := io.WriteString(w, r.Replace(zshCompletion))
		return err
	case "fish":
		s, err := app.ToFishCompletion()
		if err != nil {
			return err
		}
		// Backquotes mark the name of a flag's value in help texts.
		_, err = io.WriteString(w, strings.ReplaceAll(s, "`", ""))
		return err
	}
	return usageErr("use bash, zsh or fish", "no completion for shell %q", shell)
}
