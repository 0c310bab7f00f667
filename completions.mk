# Shell completions for wapictl, installed where each shell looks for them.
# bash-completion loads completions/<command> on demand, so the bash file is
# installed under the command's name; configure finds $(bashcompdir).
bashcompletiondir = $(bashcompdir)
bashcompletion_DATA = completions/wapictl
completions/wapictl: completions/wapictl.bash
	$(AM_V_GEN)$(MKDIR_P) completions && \
	cp $(srcdir)/completions/wapictl.bash $@
CLEANFILES += completions/wapictl

zshcompletiondir = $(datadir)/zsh/site-functions
dist_zshcompletion_DATA = completions/_wapictl

fishcompletiondir = $(datadir)/fish/vendor_completions.d
dist_fishcompletion_DATA = completions/wapictl.fish

EXTRA_DIST += completions/wapictl.bash
