# Codex bottle: the base rootfs, a `node` user, and the static codex build from
# @openai/codex (its vendor directory kept whole: codex-path holds the bundled rg).
FROM localhost/bot-bottle/base:bookworm
RUN useradd --create-home --shell /bin/bash --uid 1000 --user-group node
# tmux drives the interactive agent in tests; older base rootfs builds lack it.
RUN command -v tmux >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends tmux >/dev/null && rm -rf /var/lib/apt/lists/*)
COPY codex-vendor /opt/codex
RUN ln -s /opt/codex/bin/codex /usr/local/bin/codex
ENV PATH=/opt/codex/codex-path:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CMD ["sleep", "infinity"]
