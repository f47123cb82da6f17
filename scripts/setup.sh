#!/usr/bin/env bash
# One set-up step for a fresh Debian 12+ / Ubuntu 24.04+ machine, run as root by the README's two
# commands and by .ci/run. Idempotent: when nothing is missing it only checks, in a few seconds.
#   bash scripts/setup.sh           install what is missing, mount bpffs, npm ci if needed
#   bash scripts/setup.sh --check   list what it would do, change nothing
set -euo pipefail
cd "$(dirname "$0")/.."

check_only=0
[ "${1:-}" = "--check" ] && check_only=1

# Debian packages the build, the tests and the demo need (command or file that proves each one).
declare -A NEED=(
  [clang]=/usr/bin/clang
  [llvm]=/usr/bin/llvm-strip
  [libbpf-dev]=/usr/include/bpf/bpf_helpers.h
  [libbpf1]=libbpf.so.1
  [linux-libc-dev]=/usr/include/linux/bpf.h
  [iproute2]=/usr/sbin/ip
  [tmux]=/usr/bin/tmux
  [procps]=/usr/bin/ps
  [ca-certificates]=/etc/ssl/certs
)

missing=()
for pkg in "${!NEED[@]}"; do
  want=${NEED[$pkg]}
  case "$want" in
    /*) [ -e "$want" ] || missing+=("$pkg") ;;
    *)  ldconfig -p 2>/dev/null | grep -q "$want" || missing+=("$pkg") ;;
  esac
done
# The multiarch asm/ headers (linux/bpf.h includes asm/types.h).
arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch 2>/dev/null || echo "$(uname -m)-linux-gnu")
[ -e "/usr/include/$arch/asm/types.h" ] || missing+=(linux-libc-dev)
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u | sed '/^$/d')

problems=()
if [ -r /etc/os-release ]; then
  . /etc/os-release
  case "${ID:-}:${VERSION_ID:-}" in
    debian:1[2-9]*|debian:[2-9][0-9]*|ubuntu:2[4-9].*|ubuntu:[3-9][0-9].*) ;;
    debian:*|ubuntu:*) problems+=("${PRETTY_NAME:-$ID $VERSION_ID} is too old: katran-tui needs Debian 12+ or Ubuntu 24.04+ (libbpf >= 1.1)") ;;
    *) [ "${ID_LIKE:-}" != "${ID_LIKE#*debian}" ] || problems+=("${PRETTY_NAME:-this distribution} is not Debian/Ubuntu: install clang, llvm, libbpf (>= 1.1) headers and library, iproute2 and tmux with its package manager, then run npm ci") ;;
  esac
fi
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
[ "$node_major" -ge 20 ] || problems+=("Node.js >= 20 is needed (found: $(node --version 2>/dev/null || echo none)); install it from your distribution or nodejs.org")

bpffs_mounted=1
mount | grep -q ' /sys/fs/bpf type bpf' || bpffs_mounted=0

need_npm=0
if [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  need_npm=1
fi

if [ $check_only = 1 ]; then
  [ ${#missing[@]} -gt 0 ] && echo "would install Debian packages: ${missing[*]}" || echo "Debian packages: all present"
  [ $bpffs_mounted = 1 ] && echo "bpffs: mounted at /sys/fs/bpf" || echo "would mount bpffs at /sys/fs/bpf"
  [ $need_npm = 1 ] && echo "would run: npm ci" || echo "npm dependencies: installed from the lock file"
  for p in "${problems[@]}"; do echo "problem: $p"; done
  [ "$(id -u)" = 0 ] || echo "problem: not root: installing packages and mounting bpffs need root (sudo bash scripts/setup.sh)"
  exit 0
fi

if [ ${#problems[@]} -gt 0 ]; then
  for p in "${problems[@]}"; do echo "setup: $p" >&2; done
  exit 1
fi
if [ "$(id -u)" != 0 ] && { [ ${#missing[@]} -gt 0 ] || [ $bpffs_mounted = 0 ]; }; then
  echo "setup: not root; as root it would install: ${missing[*]:-nothing}$([ $bpffs_mounted = 0 ] && echo ', and mount bpffs at /sys/fs/bpf')" >&2
  echo "setup: run: sudo bash scripts/setup.sh" >&2
  exit 1
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ $bpffs_mounted = 0 ]; then
  echo "setup: mounting bpffs at /sys/fs/bpf"
  mkdir -p /sys/fs/bpf
  mount -t bpf bpf /sys/fs/bpf
fi
if [ $need_npm = 1 ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
libbpf_so=$(ldconfig -p | awk '/libbpf\.so\.1 /{print $NF; exit}')
libbpf_real=$(readlink -f "$libbpf_so" 2>/dev/null || true)
case "$libbpf_real" in
  *libbpf.so.1.[1-9]*|*libbpf.so.1.[1-9][0-9]*) ;;
  *) echo "setup: $libbpf_real looks older than libbpf 1.1: bpf_xdp_attach / bpf_xdp_query are missing there" >&2; exit 1 ;;
esac
echo "setup: ready (clang $(clang --version | sed -n 's/.*version \([0-9.]*\).*/\1/p;q'), $(basename "$libbpf_real"), node $(node --version))"
