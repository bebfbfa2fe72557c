# Codex bottle: the base rootfs, a `node` user, and the static codex build from
# @openai/codex (its vendor directory kept whole: codex-path holds the bundled rg).
FROM localhost/bot-bottle/base:bookworm
RUN useradd --create-home --shell /bin/bash --uid 1000 --user-group node
COPY codex-vendor /opt/codex
RUN ln -s /opt/codex/bin/codex /usr/local/bin/codex
ENV PATH=/opt/codex/codex-path:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CMD ["sleep", "infinity"]
