# Both CLIs in one image: the rootfs of the SSH bottle used by the tests and the benchmark
# (it inherits tmux and the node user from the claude image).
FROM localhost/bot-bottle/claude:latest
COPY codex-vendor /opt/codex
RUN ln -s /opt/codex/bin/codex /usr/local/bin/codex
ENV PATH=/opt/codex/codex-path:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
