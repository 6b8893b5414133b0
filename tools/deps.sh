#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Installs, with apt-get, the Debian packages joule builds and tests with that are missing.
set -euo pipefail

pkgs=(
	# build
	make gcc clang llvm pkg-config bpftool libbpf-dev libelf-dev zlib1g-dev
	libcjson-dev libmicrohttpd-dev libsodium-dev libinih-dev
	# tests: cmocka, pytest (Debian's interpreter), libFuzzer runtime, workloads
	libcmocka-dev python3-pytest libclang-rt-14-dev stress-ng procps util-linux passwd
	# daemon tests and benchmarks: promtool/prometheus, unit checks, peers
	prometheus systemd wrk linux-perf libbpf-tools
)

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages and not root; run: sudo make deps" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
