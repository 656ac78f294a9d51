# spliceproxy as a container: a Debian 12 build stage and a slim runtime stage.
# Both stages run the repository's own scripts, the ones tools/run.sh and tools/test.sh run:
# tools/deps.sh installs packages, tools/build.sh builds. CI runs those scripts on every
# change; tools/container_check.sh replays these stages in fresh Debian roots without an
# engine.
#   docker build -t spliceproxy .
#   docker run --rm -p 8080:8080 -p 9901:9901 spliceproxy
FROM debian:12 AS build
WORKDIR /src
COPY . .
RUN tools/deps.sh && tools/build.sh release spliceproxy

FROM debian:12-slim
COPY tools/deps.sh /tmp/deps.sh
RUN /tmp/deps.sh --runtime \
    && rm -rf /var/lib/apt/lists/* /tmp/deps.sh \
    && useradd --system --uid 10001 --home-dir /var/lib/spliceproxy --create-home spliceproxy
COPY --from=build /src/build/release/spliceproxy /usr/local/bin/spliceproxy
COPY tools/container/proxy.yaml /etc/spliceproxy/proxy.yaml
USER 10001:10001
WORKDIR /var/lib/spliceproxy
EXPOSE 8080 9901
# SIGTERM drains: listeners close, live sessions get drain_timeout to finish.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=2s --start-period=5s --retries=3 \
    CMD curl -fsS http://127.0.0.1:9901/healthz || exit 1
ENTRYPOINT ["spliceproxy"]
CMD ["-c", "/etc/spliceproxy/proxy.yaml"]
