# Tessera in a container: build with the Swift toolchain, run on a slim image with only the
# runtime libraries. mpirun can launch it like any binary:
#   docker build -t tessera .
#   docker run --rm tessera mpirun --allow-run-as-root -np 2 tessera info
FROM swift:6.3-bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libopenmpi-dev openmpi-bin libopenblas-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --product tessera --static-swift-stdlib \
 && install -D "$(swift build -c release --show-bin-path)/tessera" /out/tessera

FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      openmpi-bin libopenmpi3 libopenblas0-pthread openssh-client ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/tessera /usr/local/bin/tessera
# Run as a normal user so mpirun needs no --allow-run-as-root.
RUN useradd --create-home tessera
USER tessera
WORKDIR /home/tessera
CMD ["tessera", "--help"]
