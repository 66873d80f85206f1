#include "eddy/net/address.hpp"
// eddy::address: IPv4, IPv6 and Unix socket addresses, parsed from literals.

#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/un.h>

#include <stdexcept>
#include <string>

TEST_CASE("an empty address has family AF_UNSPEC and prints as \"\"", "[address]") {
  eddy::address empty;
  CHECK(empty.family() == AF_UNSPEC);
  CHECK(empty.port() == 0);
  CHECK(empty.host().empty());
  CHECK(empty.to_string().empty());
  CHECK(empty.native_length() == 0);
}

TEST_CASE("parse reads an IPv4 literal", "[address]") {
  eddy::address a = eddy::address::parse("127.0.0.1", 80);
  CHECK(a.family() == AF_INET);
  CHECK(a.host() == "127.0.0.1");
  CHECK(a.port() == 80);
  CHECK(a.to_string() == "127.0.0.1:80");
  CHECK(a.native_length() == sizeof(sockaddr_in));
  const auto* native = reinterpret_cast<const sockaddr_in*>(a.native());
  CHECK(ntohs(native->sin_port) == 80);
  CHECK(ntohl(native->sin_addr.s_addr) == INADDR_LOOPBACK);
}

TEST_CASE("parse reads an IPv6 literal", "[address]") {
  eddy::address a = eddy::address::parse("::1", 80);
  CHECK(a.family() == AF_INET6);
  CHECK(a.host() == "::1");
  CHECK(a.port() == 80);
  CHECK(a.to_string() == "[::1]:80");
  CHECK(a.native_length() == sizeof(sockaddr_in6));
}

TEST_CASE("parse accepts an IPv6 literal in brackets", "[address]") {
  eddy::address bracketed = eddy::address::parse("[::1]", 8080);
  CHECK(bracketed.family() == AF_INET6);
  CHECK(bracketed.host() == "::1");
  CHECK(bracketed.to_string() == "[::1]:8080");
  CHECK(bracketed == eddy::address::parse("::1", 8080));
}

TEST_CASE("IPv6 hosts print in their canonical short form", "[address]") {
  CHECK(eddy::address::parse("0:0:0:0:0:0:0:1", 1).host() == "::1");
  CHECK(eddy::address::parse("2001:DB8:0:0:0:0:0:1", 443).to_string() == "[2001:db8::1]:443");
  CHECK(eddy::address::parse("::ffff:127.0.0.1", 2).family() == AF_INET6);
  CHECK(eddy::address::parse("::", 0).to_string() == "[::]:0");
}

TEST_CASE("ports cover the whole 16-bit range", "[address]") {
  CHECK(eddy::address::parse("0.0.0.0", 0).to_string() == "0.0.0.0:0");
  CHECK(eddy::address::parse("10.1.2.3", 65535).to_string() == "10.1.2.3:65535");
  CHECK(eddy::address::parse("10.1.2.3", 65535).port() == 65535);
}

TEST_CASE("ipv4 and ipv6 accept only their own family", "[address]") {
  CHECK(eddy::address::ipv4("192.168.1.2", 5).to_string() == "192.168.1.2:5");
  CHECK(eddy::address::ipv6("fe80::1", 5).to_string() == "[fe80::1]:5");
  CHECK_THROWS_AS(eddy::address::ipv4("::1", 5), std::invalid_argument);
  CHECK_THROWS_AS(eddy::address::ipv6("127.0.0.1", 5), std::invalid_argument);
}

TEST_CASE("parse rejects a host that is not a literal address with std::invalid_argument",
          "[address]") {
  for (const char* host :
       {"localhost", "example.com", "", "256.1.1.1", "1.2.3", "1.2.3.4.5", " 127.0.0.1",
        "127.0.0.1 ", "::g", "[::1", "::1]", "1:2:3:4:5:6:7:8:9", "[]"}) {
    INFO("host: '" << host << "'");
    CHECK_THROWS_AS(eddy::address::parse(host, 80), std::invalid_argument);
  }
}

TEST_CASE("the invalid_argument message names the host", "[address]") {
  try {
    static_cast<void>(eddy::address::parse("not-an-ip", 1));
    FAIL("parse accepted a host name");
  } catch (const std::invalid_argument& error) {
    CHECK_THAT(error.what(), Catch::Contains("not-an-ip"));
  }
}

TEST_CASE("unix_path makes a Unix socket address printed as unix:<path>", "[address]") {
  eddy::address a = eddy::address::unix_path("/run/eddy.sock");
  CHECK(a.family() == AF_UNIX);
  CHECK(a.host() == "/run/eddy.sock");
  CHECK(a.port() == 0);
  CHECK(a.to_string() == "unix:/run/eddy.sock");
}

TEST_CASE("unix_path accepts an abstract name that starts with a NUL byte", "[address]") {
  std::string name("\0eddy-abstract", 14);
  eddy::address a = eddy::address::unix_path(name);
  CHECK(a.family() == AF_UNIX);
  CHECK(a.host() == name);
}

TEST_CASE("unix_path rejects an empty or too long path with std::invalid_argument", "[address]") {
  constexpr std::size_t capacity = sizeof(sockaddr_un{}.sun_path);
  CHECK_NOTHROW(eddy::address::unix_path(std::string(capacity - 1, 'x')));
  CHECK_THROWS_AS(eddy::address::unix_path(std::string(capacity, 'x')), std::invalid_argument);
  CHECK_THROWS_AS(eddy::address::unix_path(std::string(1000, 'x')), std::invalid_argument);
  CHECK_THROWS_AS(eddy::address::unix_path(""), std::invalid_argument);
}

TEST_CASE("addresses compare equal by value", "[address]") {
  CHECK(eddy::address::parse("127.0.0.1", 80) == eddy::address::parse("127.0.0.1", 80));
  CHECK_FALSE(eddy::address::parse("127.0.0.1", 80) == eddy::address::parse("127.0.0.1", 81));
  CHECK_FALSE(eddy::address::parse("127.0.0.1", 80) == eddy::address::parse("127.0.0.2", 80));
  CHECK_FALSE(eddy::address::parse("::1", 80) == eddy::address::parse("127.0.0.1", 80));
  CHECK(eddy::address::unix_path("/a") == eddy::address::unix_path("/a"));
  CHECK_FALSE(eddy::address::unix_path("/a") == eddy::address::unix_path("/b"));
  CHECK(eddy::address() == eddy::address());
}

TEST_CASE("from_native copies a kernel address and rejects an oversized length", "[address]") {
  eddy::address original = eddy::address::parse("10.0.0.7", 1234);
  eddy::address copy = eddy::address::from_native(original.native(), original.native_length());
  CHECK(copy == original);
  CHECK(copy.to_string() == "10.0.0.7:1234");
  CHECK_THROWS_AS(eddy::address::from_native(original.native(), eddy::address::capacity() + 1),
                  std::invalid_argument);
}

TEST_CASE("an address is a copyable value", "[address]") {
  eddy::address a = eddy::address::parse("::1", 9);
  eddy::address b = a;
  b = eddy::address::parse("127.0.0.1", 10);
  CHECK(a.to_string() == "[::1]:9");
  CHECK(b.to_string() == "127.0.0.1:10");
}
