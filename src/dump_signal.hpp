// The live task dump: loop_options::dump_signal and EDDY_DUMP_SIGNAL (src/dump_signal.cpp).
#pragma once

#include <optional>
#include <string_view>

namespace eddy {
class event_loop;
}

namespace eddy::detail {

/// The signal a name or number spells: "SIGUSR1", "USR1" (either case) or "10". Nullopt for
/// anything else, 0 included.
[[nodiscard]] std::optional<int> parse_signal(std::string_view text) noexcept;

/// For event_loop's constructor: makes `requested`, or else the signal EDDY_DUMP_SIGNAL names,
/// print dump_tasks(loop, stderr) each time it arrives. Throws what add_signal_handler throws
/// for an explicit `requested`; from the environment it never throws (see loop_options).
void install_dump_signal(event_loop& loop, std::optional<int> requested);

}  // namespace eddy::detail
