# The egress proxy (roles/egress): mitmproxy 11.0.2, the newest that runs on bookworm's Python 3.11,
# and our addon. No network in the build: scripts/bootstrap.sh stages the context on the host:
#   egress-site/          pip install --target (cp311 manylinux wheels of mitmproxy and its deps)
#   bot_bottle_egress.py  roles/egress/files/bot_bottle_egress.py
# The entrypoint is mitmdump; `--entrypoint python3 IMAGE /opt/bot-bottle-egress/bot_bottle_egress.py
# check|ca ...` runs the addon's CLI with the same mitmproxy.
FROM localhost/bot-bottle/base:bookworm
RUN useradd --system --uid 10001 --user-group --home-dir /nonexistent --shell /usr/sbin/nologin egress
COPY egress-site /opt/bot-bottle-egress/site
COPY bot_bottle_egress.py /opt/bot-bottle-egress/bot_bottle_egress.py
# Unbuffered: the proxy log (docker logs) is live. HOME=/tmp: mitmproxy writes nothing there with
# --set confdir, but a HOME must exist for any uid.
ENV PYTHONPATH=/opt/bot-bottle-egress/site PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HOME=/tmp
USER egress
EXPOSE 3128
ENTRYPOINT ["python3", "-c", "import sys; sys.argv[0] = 'mitmdump'; from mitmproxy.tools.main import mitmdump; mitmdump()"]
CMD ["--version"]
