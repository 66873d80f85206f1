# Smoke test of echo_client (run by ctest: bash echo_client.smoke.sh <echo_client>): the same
# conversation as echo_server's smoke test, which starts the server it needs.
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
exec bash "$here/echo_server.smoke.sh" "$(dirname "$1")/echo_server"
