#include "eddy/net/address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

namespace eddy {

address::address() noexcept : storage_{}, length_(0) { storage_.ss_family = AF_UNSPEC; }

address address::ipv4(std::string_view host, std::uint16_t port) {
  address result;
  sockaddr_in native{};
  native.sin_family = AF_INET;
  native.sin_port = htons(port);
  std::string text(host);
  if (inet_pton(AF_INET, text.c_str(), &native.sin_addr) != 1) {
    throw std::invalid_argument(fmt::format("address::ipv4: '{}' is not an IPv4 address", host));
  }
  std::memcpy(&result.storage_, &native, sizeof native);
  result.length_ = sizeof native;
  return result;
}

address address::ipv6(std::string_view host, std::uint16_t port) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  address result;
  sockaddr_in6 native{};
  native.sin6_family = AF_INET6;
  native.sin6_port = htons(port);
  std::string text(host);
  if (inet_pton(AF_INET6, text.c_str(), &native.sin6_addr) != 1) {
    throw std::invalid_argument(fmt::format("address::ipv6: '{}' is not an IPv6 address", host));
  }
  std::memcpy(&result.storage_, &native, sizeof native);
  result.length_ = sizeof native;
  return result;
}

address address::parse(std::string_view host, std::uint16_t port) {
  if (host.find(':') != std::string_view::npos) {
    return ipv6(host, port);
  }
  try {
    return ipv4(host, port);
  } catch (const std::invalid_argument&) {
    throw std::invalid_argument(
        fmt::format("address::parse: '{}' is not a literal IPv4 or IPv6 address", host));
  }
}

address address::unix_path(std::string_view path) {
  sockaddr_un native{};
  if (path.empty() || path.size() >= sizeof native.sun_path) {
    throw std::invalid_argument(
        fmt::format("address::unix_path: the path must have 1 to {} bytes, not {}",
                    sizeof native.sun_path - 1, path.size()));
  }
  native.sun_family = AF_UNIX;
  std::memcpy(native.sun_path, path.data(), path.size());
  address result;
  std::memcpy(&result.storage_, &native, sizeof native);
  // An abstract name's length is exact; a filesystem path includes its terminating NUL.
  result.length_ = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() +
                                          (path.front() == '\0' ? 0 : 1));
  return result;
}

address address::from_native(const sockaddr* native, socklen_t length) {
  if (length > sizeof(sockaddr_storage)) {
    throw std::invalid_argument(
        fmt::format("address::from_native: length {} is too large", length));
  }
  address result;
  std::memcpy(&result.storage_, native, length);
  result.length_ = length;
  return result;
}

std::uint16_t address::port() const noexcept {
  switch (family()) {
    case AF_INET:
      return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
    case AF_INET6:
      return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
    default:
      return 0;
  }
}

std::string address::host() const {
  char text[INET6_ADDRSTRLEN] = {};
  switch (family()) {
    case AF_INET:
      inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, text,
                sizeof text);
      return text;
    case AF_INET6:
      inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, text,
                sizeof text);
      return text;
    case AF_UNIX: {
      const auto* native = reinterpret_cast<const sockaddr_un*>(&storage_);
      auto offset = offsetof(sockaddr_un, sun_path);
      if (length_ <= offset) {
        return {};  // unnamed
      }
      std::size_t size = length_ - offset;
      std::string path(native->sun_path, size);
      if (!path.empty() && path.front() != '\0') {
        path.resize(std::strlen(path.c_str()));
      }
      return path;
    }
    default:
      return {};
  }
}

std::string address::to_string() const {
  switch (family()) {
    case AF_INET:
      return fmt::format("{}:{}", host(), port());
    case AF_INET6:
      return fmt::format("[{}]:{}", host(), port());
    case AF_UNIX:
      return "unix:" + host();
    default:
      return {};
  }
}

bool operator==(const address& a, const address& b) noexcept {
  return a.length_ == b.length_ && std::memcmp(&a.storage_, &b.storage_, a.length_) == 0;
}

}  // namespace eddy
