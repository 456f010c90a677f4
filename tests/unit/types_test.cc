// Basic value types: role names (also the state file content) and IP prefixes.
#include "core/types.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

namespace havip {
namespace {

TEST(RoleName, IsNeutronsWord) {
  EXPECT_EQ(role_name(Role::primary), "primary");
  EXPECT_EQ(role_name(Role::backup), "backup");
  EXPECT_EQ(role_name(Role::unknown), "unknown");
}

TEST(IpPrefix, ParsesIpv4) {
  auto p = IpPrefix::parse("169.254.0.1/24");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->family, AF_INET);
  EXPECT_EQ(p->length, 24);
  EXPECT_EQ(p->bytes[0], 169);
  EXPECT_EQ(p->bytes[1], 254);
  EXPECT_EQ(p->bytes[2], 0);
  EXPECT_EQ(p->bytes[3], 1);
  EXPECT_EQ(p->to_string(), "169.254.0.1/24");
}

TEST(IpPrefix, ParsesIpv6) {
  auto p = IpPrefix::parse("fd00::1/64");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->family, AF_INET6);
  EXPECT_EQ(p->length, 64);
  EXPECT_EQ(p->bytes[0], 0xfd);
  EXPECT_EQ(p->bytes[15], 1);
  EXPECT_EQ(p->to_string(), "fd00::1/64");
}

TEST(IpPrefix, PrintsIpv6InCanonicalForm) {
  EXPECT_EQ(IpPrefix::parse("FD00:0:0:0::0001/64")->to_string(), "fd00::1/64");
}

TEST(IpPrefix, AcceptsEveryLengthUpToTheAddressSize) {
  EXPECT_EQ(IpPrefix::parse("10.0.0.1/0")->length, 0);
  EXPECT_EQ(IpPrefix::parse("10.0.0.1/32")->length, 32);
  EXPECT_EQ(IpPrefix::parse("::/0")->length, 0);
  EXPECT_EQ(IpPrefix::parse("fd00::1/128")->length, 128);
}

TEST(IpPrefix, RejectsMalformedText) {
  for (const char* text : {"", "/", "169.254.0.1", "169.254.0.1/", "/24", "169.254.0.1/33",
                           "fd00::1/129", "169.254.0.1/-1", "169.254.0.1/+24", "169.254.0.1/24 ",
                           " 169.254.0.1/24", "169.254.0.1/24/8", "169.254.0.1/2x",
                           "169.254.0.256/24", "edge1/24", "fe80::1%eth0/64", "10.0.0.1/4294967320"})
    EXPECT_FALSE(IpPrefix::parse(text)) << '"' << text << '"';
}

TEST(IpPrefix, EqualityIsAddressAndLength) {
  EXPECT_EQ(IpPrefix::parse("fd00::1/64"), IpPrefix::parse("fd00:0::1/64"));
  EXPECT_NE(IpPrefix::parse("10.0.0.1/24"), IpPrefix::parse("10.0.0.1/32"));
  EXPECT_NE(IpPrefix::parse("10.0.0.1/24"), IpPrefix::parse("10.0.0.2/24"));
  // An IPv4 address and the IPv6 address with the same leading bytes differ.
  EXPECT_NE(IpPrefix::parse("0.0.0.0/0"), IpPrefix::parse("::/0"));
}

TEST(IpPrefix, EmptyPrintsAsDash) { EXPECT_EQ(IpPrefix{}.to_string(), "-"); }

}  // namespace
}  // namespace havip
