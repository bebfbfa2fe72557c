# Claude Code bottle: the base rootfs, a `node` user, and the self-contained claude binary
# from @anthropic-ai/claude-code (scripts/bootstrap.sh stages it in the build context).
FROM localhost/bot-bottle/base:bookworm
RUN useradd --create-home --shell /bin/bash --uid 1000 --user-group node
COPY claude /usr/local/bin/claude
CMD ["sleep", "infinity"]
