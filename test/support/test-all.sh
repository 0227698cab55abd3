#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what the tiers need (as root, from Debian),
# builds the CLI, then runs every tier. The PostgreSQL cluster and dockerd are started and stopped
# by the tests themselves (test/support/setup-postgres.ts, setup-docker.ts, test/support/docker.ts).
set -euo pipefail
cd "$(dirname "$0")/../.."

have_pg() { compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; }
apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages: $* (run as root to install them, or install them yourself)" >&2
    return 0
  fi
  echo "installing $* from Debian" >&2
  [ -n "${APT_UPDATED:-}" ] || { apt-get update -qq; APT_UPDATED=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

have_pg || apt_install postgresql-15 || apt_install postgresql
# The HTML report is checked in a real headless browser (Debian's chromium, driven by playwright-core).
[ -x /usr/bin/chromium ] || apt_install chromium
# /metrics is checked with Prometheus' own promtool (in the e2e tier, not only with Docker).
command -v promtool >/dev/null || apt_install prometheus
# The docker tier: Debian's dockerd and docker-compose 1.29, plus what its offline images are
# made of (busybox-static, prometheus). Not started here: the tests start their own dockerd
# (test/support/docker.ts) and stop it afterwards.
command -v dockerd >/dev/null || [ -x /usr/sbin/dockerd ] || apt_install docker.io docker-compose busybox-static prometheus
# The multi-node swarm test's registry, which every node pulls the app image from (test/support/swarm-nodes/up.sh).
command -v docker-registry >/dev/null || apt_install docker-registry

[ -x node_modules/.bin/vitest ] || npm ci --no-audit --no-fund
npm run build
npm run typecheck   # tests and benchmarks too
npm run lint        # Biome lint and format check, no line over 140 characters
# With no arguments, the docker tier runs beside the others, as a second vitest: its files spend most
# of their time waiting on dockerd, and run one at a time on their own engine. Its lines are prefixed.
if [ $# -gt 0 ]; then exec npx vitest run "$@"; fi
(npx vitest run --project docker 2>&1 | sed -u 's/^/[docker] /') &
docker_tier=$!
main_rc=0
npx vitest run --project main || main_rc=$?
docker_rc=0
wait "$docker_tier" || docker_rc=$?
echo "main tiers (unit, db, e2e): exit $main_rc; docker tier: exit $docker_rc"
[ "$main_rc" = 0 ] && [ "$docker_rc" = 0 ]
