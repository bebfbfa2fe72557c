# Claude Code bottle: the base rootfs, a `node` user, and the self-contained claude binary from
# @anthropic-ai/claude-code (images/claude.npm, npm-installed into the context by scripts/bootstrap.sh).
FROM localhost/bot-bottle/base:bookworm
RUN useradd --create-home --shell /bin/bash --uid 1000 --user-group node
# tmux drives the interactive agent in tests; older base rootfs builds lack it.
RUN command -v tmux >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends tmux >/dev/null && rm -rf /var/lib/apt/lists/*)
COPY node_modules/@anthropic-ai/claude-code-linux-x64/claude /opt/bot-bottle/claude/claude
RUN ln -s /opt/bot-bottle/claude/claude /usr/local/bin/claude
CMD ["sleep", "infinity"]
