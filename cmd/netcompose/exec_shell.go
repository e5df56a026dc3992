package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/netcompose/netcompose/compose/kernel"
)

// shell runs the user's $SHELL interactively in node of t, its prompt
// prefixed with "(LAB:NODE)", and returns its exit code.
func shell(cmd *cobra.Command, t *target, node string) (int, error) {
	sh := os.Getenv("SHELL")
	if sh == "" {
		sh = "/bin/sh"
	}
	tag := fmt.Sprintf("(%s:%s) ", t.name, node)
	dir, err := os.MkdirTemp("", "netcompose-shell-")
	if err != nil {
		return -1, fmt.Errorf("exec: shell: %w", err)
	}
	defer os.RemoveAll(dir)
	argv, env, err := shellSetup(sh, tag, dir)
	if err != nil {
		return -1, fmt.Errorf("exec: shell %s: %w", sh, err)
	}
	// Not killed by a context: the shell outlives ctrl-C.
	c := nodeCommand(context.Background(), t, node, sh, argv...)
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, cmd.OutOrStdout(), cmd.ErrOrStderr()
	c.Env = append(c.Env, env...)
	// ctrl-C and ctrl-\ are the shell's: netcompose waits for it and
	// must not die of them (it catches them rather than ignore them, so
	// that the shell and what it runs start with the default handling).
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	return kernel.Run(t.name, node, c)
}

// shellSetup is how sh is started so that its prompt begins with tag:
// its arguments and environment, with files it reads written under dir.
// bash, zsh and fish read their usual start-up files first and prefix
// the prompt these set; any other shell gets PS1 from the environment.
// (tag holds safe names only: shellQuote's quoting suits fish too.)
func shellSetup(sh, tag, dir string) (argv, env []string, err error) {
	switch filepath.Base(sh) {
	case "bash":
		rc := filepath.Join(dir, "bashrc")
		script := "[ -f ~/.bashrc ] && . ~/.bashrc\nPS1=" + shellQuote(tag) + "\"$PS1\"\n"
		return []string{"--rcfile", rc, "-i"}, nil, os.WriteFile(rc, []byte(script), 0o600)
	case "zsh":
		// zsh reads $ZDOTDIR/.zshrc: this one reads the user's, then
		// prefixes the prompt.
		orig := os.Getenv("ZDOTDIR")
		if orig == "" {
			orig = os.Getenv("HOME")
		}
		script := "ZDOTDIR=" + shellQuote(orig) + "\n[ -f \"$ZDOTDIR/.zshrc\" ] && . \"$ZDOTDIR/.zshrc\"\nPROMPT=" + shellQuote(tag) + "\"$PROMPT\"\n"
		return []string{"-i"}, []string{"ZDOTDIR=" + dir}, os.WriteFile(filepath.Join(dir, ".zshrc"), []byte(script), 0o600)
	case "fish":
		init := "functions -c fish_prompt __netcompose_prompt; function fish_prompt; echo -n " + shellQuote(tag) + "; __netcompose_prompt; end"
		return []string{"-i", "-C", init}, nil, nil
	}
	ps1 := "$ "
	if os.Geteuid() == 0 {
		ps1 = "# "
	}
	return []string{"-i"}, []string{"PS1=" + tag + ps1}, nil
}
