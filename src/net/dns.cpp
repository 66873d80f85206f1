#include "eddy/net/dns.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string_view>

#include <fmt/format.h>

#include "eddy/thread.hpp"

namespace eddy {
namespace {

/// "Name or service not known", or for EAI_SYSTEM the errno's text.
std::string describe_gai(int code, int saved_errno) {
  if (code == EAI_SYSTEM) {
    return std::strerror(saved_errno);
  }
  return gai_strerror(code);
}

void require_no_nul(std::string_view function, std::string_view what, const std::string& text) {
  if (text.find('\0') != std::string::npos) {
    throw std::invalid_argument(fmt::format("{}: the {} contains a NUL byte", function, what));
  }
}

/// Whether the resolver can answer without blocking: no host (loopback or wildcard) or a
/// literal address, and a numeric service. Then AI_NUMERICHOST | AI_NUMERICSERV keep it from
/// ever consulting /etc/hosts, DNS or /etc/services.
bool is_numeric(const std::string& host, const std::string& service) {
  bool numeric_service = service.find_first_not_of("0123456789") == std::string::npos;
  if (!numeric_service) {
    return false;
  }
  if (host.empty()) {
    return true;
  }
  unsigned char scratch[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), scratch) == 1 ||
         inet_pton(AF_INET6, host.c_str(), scratch) == 1;
}

/// The blocking call itself, run on the loop thread or on a worker.
std::vector<addrinfo_entry> resolve_now(const std::string& host, const std::string& service,
                                        addrinfo_options options) {
  addrinfo hints{};
  hints.ai_family = options.family;
  hints.ai_socktype = options.type;
  hints.ai_protocol = options.protocol;
  hints.ai_flags = options.flags;
  addrinfo* found = nullptr;
  const char* node = host.empty() ? nullptr : host.c_str();
  const char* port = service.empty() ? "0" : service.c_str();
  int code = ::getaddrinfo(node, port, &hints, &found);
  if (code != 0) {
    int saved_errno = errno;
    throw gai_error(code, fmt::format("getaddrinfo('{}', '{}'): {}", host, service,
                                      describe_gai(code, saved_errno)));
  }
  const std::unique_ptr<addrinfo, void (*)(addrinfo*)> owned{found, ::freeaddrinfo};
  std::vector<addrinfo_entry> entries;
  for (const addrinfo* each = found; each != nullptr; each = each->ai_next) {
    addrinfo_entry entry;
    entry.family = each->ai_family;
    entry.type = each->ai_socktype;
    entry.protocol = each->ai_protocol;
    if (each->ai_canonname != nullptr) {
      entry.canonical_name = each->ai_canonname;
    }
    entry.addr = address::from_native(each->ai_addr, each->ai_addrlen);
    entries.push_back(std::move(entry));
  }
  return entries;
}

std::pair<std::string, std::string> name_now(const address& where, int flags) {
  char host[NI_MAXHOST];
  char service[NI_MAXSERV];
  int code = ::getnameinfo(where.native(), where.native_length(), host, sizeof host, service,
                           sizeof service, flags);
  if (code != 0) {
    int saved_errno = errno;
    throw gai_error(code, fmt::format("getnameinfo({}): {}", where.to_string(),
                                      describe_gai(code, saved_errno)));
  }
  return {host, service};
}

}  // namespace

coro<std::vector<addrinfo_entry>> getaddrinfo(std::string host, std::uint16_t port,
                                              addrinfo_options options) {
  co_return co_await getaddrinfo(std::move(host), std::to_string(port), options);
}

coro<std::vector<addrinfo_entry>> getaddrinfo(std::string host, std::string service,
                                              addrinfo_options options) {
  require_no_nul("getaddrinfo", "host", host);
  require_no_nul("getaddrinfo", "service", service);
  // A bracketed IPv6 literal ("[::1]", as in URLs) is what the user means by "::1".
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (is_numeric(host, service)) {
    options.flags |= AI_NUMERICHOST | AI_NUMERICSERV;
    co_return resolve_now(host, service, options);
  }
  co_return co_await to_thread(resolve_now, std::move(host), std::move(service), options);
}

coro<std::pair<std::string, std::string>> getnameinfo(address where, int flags) {
  if (where.family() != AF_INET && where.family() != AF_INET6) {
    throw std::invalid_argument(
        fmt::format("getnameinfo: '{}' is not an IPv4 or IPv6 address", where.to_string()));
  }
  constexpr int numeric = NI_NUMERICHOST | NI_NUMERICSERV;
  if ((flags & numeric) == numeric) {
    co_return name_now(where, flags);
  }
  co_return co_await to_thread(name_now, where, flags);
}

}  // namespace eddy
