// eddy::address: an IPv4, IPv6 or Unix socket address.
#pragma once

#include <sys/socket.h>
#include <cstdint>
#include <string>
#include <string_view>

namespace eddy {

/// A socket address: IPv4 or IPv6 (literal host + port) or a Unix path. A value type.
/// Host names are not resolved here (that is getaddrinfo's job, on the thread pool).
class address {
 public:
  /// An empty address (family AF_UNSPEC).
  address() noexcept;

  /// A literal IPv4 or IPv6 host ("127.0.0.1", "::1", "[::1]") and a port. Throws
  /// std::invalid_argument naming the host if it is not a literal address.
  static address parse(std::string_view host, std::uint16_t port);
  /// Throws std::invalid_argument unless host is a literal IPv4 address.
  static address ipv4(std::string_view host, std::uint16_t port);
  /// Throws std::invalid_argument unless host is a literal IPv6 address.
  static address ipv6(std::string_view host, std::uint16_t port);
  /// A Unix socket path; a leading '\0' makes it abstract. Throws std::invalid_argument if the
  /// path is empty or longer than sun_path allows.
  static address unix_path(std::string_view path);
  /// Copies a kernel address. Throws std::invalid_argument if length is too large.
  static address from_native(const sockaddr* native, socklen_t length);

  [[nodiscard]] int family() const noexcept { return storage_.ss_family; }
  /// The port of an IP address; 0 for others.
  [[nodiscard]] std::uint16_t port() const noexcept;
  /// The numeric host of an IP address, or the path of a Unix one.
  [[nodiscard]] std::string host() const;
  /// "127.0.0.1:8080", "[::1]:8080", "unix:/run/x.sock"; "" when empty.
  [[nodiscard]] std::string to_string() const;

  [[nodiscard]] const sockaddr* native() const noexcept {
    return reinterpret_cast<const sockaddr*>(&storage_);
  }
  [[nodiscard]] sockaddr* native() noexcept { return reinterpret_cast<sockaddr*>(&storage_); }
  [[nodiscard]] socklen_t native_length() const noexcept { return length_; }
  /// For APIs that fill the address in: the buffer's capacity, then set_native_length().
  [[nodiscard]] static constexpr socklen_t capacity() noexcept { return sizeof(sockaddr_storage); }
  void set_native_length(socklen_t length) noexcept { length_ = length; }

  friend bool operator==(const address& a, const address& b) noexcept;

 private:
  sockaddr_storage storage_;
  socklen_t length_;
};

}  // namespace eddy
