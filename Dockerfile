# llmq-coord and llmq-worker on Debian 12, for deploy/k8s/ (README.md, "Kubernetes").
#   docker build -t llmq:0.1.0 .
# The worker is built against Debian's libtorch, which is CPU-only: this image runs the
# coordinator and CPU workers. GPU workers need an llmq-worker built against a CUDA torch
# (scripts/build-torch2), which this file does not build.

# ---- build: the toolchain and -dev packages, then the two binaries
FROM debian:12 AS build
WORKDIR /src
COPY scripts/install-deps scripts/install-deps
RUN scripts/install-deps && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLLMQ_BUILD_TESTS=OFF \
 && cmake --build /build --target llmq-coord llmq-worker \
 && mkdir -p /out/bin \
 && strip --strip-debug -o /out/bin/llmq-coord /build/coordinator/llmq-coord \
 && strip --strip-debug -o /out/bin/llmq-worker /build/worker/llmq-worker
# The runtime packages are read off the binaries, not written by hand: the package that
# owns each shared library they load (through the symlink ldd names, else its target:
# alternatives such as libopenblas.so.0 belong to no package themselves).
RUN for lib in $(ldd /out/bin/* | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | sort -u); do \
      dpkg -S "$lib" 2>/dev/null || dpkg -S "$(readlink -f "$lib")"; \
    done | cut -d: -f1 | sort -u > /out/runtime-packages \
 && cat /out/runtime-packages

# ---- runtime: shared libraries, the binaries and the bundled datasets
FROM debian:12 AS runtime
COPY --from=build /out/runtime-packages /tmp/runtime-packages
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive xargs -a /tmp/runtime-packages \
      apt-get install -y -q --no-install-recommends \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages
COPY --from=build /out/bin/ /usr/local/bin/
# Fails the build if a library the binaries need did not come with those packages.
RUN ! ldd /usr/local/bin/llmq-coord /usr/local/bin/llmq-worker | grep "not found"
COPY --from=build /src/assets /usr/share/llmq/assets
ENV LLMQ_ASSETS_DIR=/usr/share/llmq/assets
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/llmq llmq \
 && install -d -o llmq -g llmq /var/lib/llmq
USER 10001:10001
WORKDIR /home/llmq
EXPOSE 7878
# The coordinator; the Kubernetes manifests give their own command and arguments. It
# refuses to start without the token file, rather than listen unauthenticated.
CMD ["llmq-coord", "serve", "--db=/var/lib/llmq/llmq.db", "--listen=0.0.0.0:7878", \
     "--token_file=/etc/llmq/token/token"]
