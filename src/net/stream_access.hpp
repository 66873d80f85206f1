// How eddy's own stream code reaches a handle's shared state (private to the library).
#pragma once

#include "eddy/net/stream.hpp"

namespace eddy::detail {

struct stream_access {
  static stream_state& of(const stream_reader& reader) { return *reader.state_; }
  static stream_state& of(const stream_writer& writer) { return *writer.state_; }
  static stream_state* raw(const stream_writer& writer) { return writer.state_; }
  static stream_state* raw(const stream_reader& reader) { return reader.state_; }
  static stream_reader make_reader(stream_state* state) { return stream_reader(state); }
  static stream_writer make_writer(stream_state* state) { return stream_writer(state); }
};

/// Throws std::invalid_argument unless the options make sense; `what` names the caller.
void check_stream_options(const stream_options& options, const char* what);

}  // namespace eddy::detail
