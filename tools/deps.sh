#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Installs, with apt-get, the Debian packages joule needs that are missing: "build" (make), "test" (make test), or "all".
set -euo pipefail

build=(
	make gcc clang llvm pkg-config bpftool libbpf-dev libelf-dev zlib1g-dev
	libcjson-dev libmicrohttpd-dev libsodium-dev libinih-dev libcurl4-openssl-dev
	# TLS and basic auth of the web config: GnuTLS, YAML, bcrypt (libxcrypt)
	libgnutls28-dev libyaml-dev libcrypt-dev
)
test=(
	# cmocka, pytest (Debian's interpreter), libFuzzer runtime, workloads
	libcmocka-dev python3-pytest libclang-rt-14-dev stress-ng procps util-linux passwd
	# daemon tests and benchmarks: promtool/prometheus, unit checks, peers
	prometheus systemd wrk linux-perf libbpf-tools
	# CLI tests: top drawn in a real terminal (tmux capture-pane), the man page, bash completion
	tmux man-db groff-base bash-completion
	# the package round trip and the image (tests/integration/test_package.py); runc because
	# crun refuses hybrid cgroup hosts
	dpkg-dev debhelper fakeroot lintian devscripts podman runc
	# reports: BoAmps schema validation, a real Pushgateway
	python3-jsonschema prometheus-pushgateway
	# TLS tests: a CA made by the test, a client
	openssl curl
	# ledger tests: forged Ed25519 chains made independently of joule
	python3-cryptography
	# the live page in a real browser (tests/integration/test_page.py), with a font to draw text in
	chromium fonts-dejavu-core
)

case "${1:-all}" in
build) pkgs=("${build[@]}") ;;
test) pkgs=("${test[@]}") ;;
all) pkgs=("${build[@]}" "${test[@]}") ;;
*) echo "usage: $0 build|test|all" >&2; exit 2 ;;
esac

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
# Two runs at once (two clones) would fight over dpkg's lock: wait for it instead of failing.
apt_opts=(-o DPkg::Lock::Timeout=600)
apt-get "${apt_opts[@]}" update -qq
apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
