# Codex bottle: the base rootfs, a `node` user, and the static codex build from @openai/codex
# (images/codex.npm), its vendor directory kept whole.
FROM localhost/bot-bottle/base:bookworm
RUN useradd --create-home --shell /bin/bash --uid 1000 --user-group node
# tmux drives the interactive agent in tests; older base rootfs builds lack it.
RUN command -v tmux >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends tmux >/dev/null && rm -rf /var/lib/apt/lists/*)
COPY node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl /opt/bot-bottle/codex
# codex-path holds the bundled rg, which codex runs from PATH (its npm launcher would prepend it).
RUN ln -s /opt/bot-bottle/codex/bin/codex /opt/bot-bottle/codex/codex-path/* /usr/local/bin/
CMD ["sleep", "infinity"]
