// The Prometheus text format: families, labels, escaping, the histogram.
#include "report/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace havip {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

MetricsInput two_routers() {
  MetricsInput in;
  in.routers.resize(2);
  in.routers[0].name = "edge1";
  in.routers[0].netns = "ns1";
  in.routers[0].role = Role::primary;
  in.routers[1].name = "edge2";
  in.routers[1].role = Role::unknown;
  in.netlink_resyncs = 3;
  in.netlink_messages = 1234;
  in.netlink_malformed = 1;
  in.namespaces_watched = 2;
  return in;
}

TEST(Metrics, EveryFamilyHasHelpAndType) {
  Metrics m;
  std::string text = m.render(two_routers(), "1.2.3");
  for (const char* family :
       {"havip_build_info gauge", "havip_router_role gauge", "havip_transitions_total counter",
        "havip_effect_failures_total counter", "havip_child_exits_total counter",
        "havip_netlink_resyncs_total counter", "havip_netlink_messages_total counter",
        "havip_netlink_malformed_total counter", "havip_namespaces_watched gauge",
        "havip_event_to_effect_seconds histogram"}) {
    EXPECT_THAT(text, HasSubstr(std::string("# TYPE ") + family + "\n"));
    std::string name = std::string(family).substr(0, std::string(family).find(' '));
    EXPECT_THAT(text, HasSubstr("# HELP " + name + " "));
  }
  EXPECT_THAT(text, HasSubstr("havip_build_info{version=\"1.2.3\"} 1\n"));
  EXPECT_EQ(text.back(), '\n');
}

TEST(Metrics, RoleIsOneHotPerRouter) {
  Metrics m;
  std::string text = m.render(two_routers(), "v");
  EXPECT_THAT(text, HasSubstr("havip_router_role{router=\"edge1\",namespace=\"ns1\",role=\"primary\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("havip_router_role{router=\"edge1\",namespace=\"ns1\",role=\"backup\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("havip_router_role{router=\"edge2\",namespace=\"\",role=\"unknown\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("havip_netlink_resyncs_total 3\n"));
  EXPECT_THAT(text, HasSubstr("havip_netlink_messages_total 1234\n"));
  EXPECT_THAT(text, HasSubstr("havip_namespaces_watched 2\n"));
}

TEST(Metrics, DrainedAndTrackFailedOnlyForRoutersWithATrackFile) {
  Metrics m;
  MetricsInput in = two_routers();
  in.routers[0].drained = true;
  in.routers[0].track_failed = false;
  std::string text = m.render(in, "v");
  EXPECT_THAT(text, HasSubstr("# TYPE havip_router_drained gauge\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE havip_router_track_failed gauge\n"));
  EXPECT_THAT(text, HasSubstr("havip_router_drained{router=\"edge1\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("havip_router_track_failed{router=\"edge1\"} 0\n"));
  EXPECT_THAT(text, Not(HasSubstr("havip_router_drained{router=\"edge2\"}")));
  EXPECT_THAT(text, Not(HasSubstr("havip_router_track_failed{router=\"edge2\"}")));
}

TEST(Metrics, CountersByRouter) {
  Metrics m;
  m.transition(RoleChange{"edge1", Role::unknown, Role::primary, "", "", ""});
  m.transition(RoleChange{"edge1", Role::unknown, Role::primary, "", "", ""});
  m.transition(RoleChange{"edge1", Role::unknown, Role::backup, "", "", ""});
  m.effect_failed({"edge1", "", "sysctls", ""});
  m.child_exited({"edge1", "", "radvd", "", false, ""});
  std::string text = m.render({}, "v");
  EXPECT_THAT(text, HasSubstr("havip_transitions_total{router=\"edge1\",role=\"primary\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("havip_transitions_total{router=\"edge1\",role=\"backup\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("havip_effect_failures_total{router=\"edge1\",effect=\"sysctls\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("havip_child_exits_total{router=\"edge1\",what=\"radvd\"} 1\n"));
}

TEST(Metrics, RemovedRoutersLoseTheirSeries) {
  Metrics m;
  m.transition(RoleChange{"gone", Role::unknown, Role::primary, "", "", ""});
  m.effect_failed({"gone", "", "hook", ""});
  m.transition(RoleChange{"kept", Role::unknown, Role::backup, "", "", ""});
  m.keep_only({"kept"});
  std::string text = m.render({}, "v");
  EXPECT_THAT(text, Not(HasSubstr("gone")));
  EXPECT_THAT(text, HasSubstr("router=\"kept\""));
}

TEST(Metrics, LabelValuesAreEscaped) {
  EXPECT_EQ(escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  Metrics m;
  m.transition(RoleChange{"we\"ird\n", Role::unknown, Role::primary, "", "", ""});
  EXPECT_THAT(m.render({}, "v"), HasSubstr("router=\"we\\\"ird\\n\""));
}

TEST(Metrics, HistogramBucketsAreCumulativeWithInf) {
  Metrics m;
  m.latency(std::chrono::microseconds(30));   // <= 50 µs
  m.latency(std::chrono::microseconds(100));  // exactly on the 100 µs bound: le is inclusive
  m.latency(std::chrono::milliseconds(3));
  m.latency(std::chrono::seconds(5));         // only +Inf
  std::string text = m.render({}, "v");
  EXPECT_THAT(text, HasSubstr("havip_event_to_effect_seconds_bucket{le=\"5e-05\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("havip_event_to_effect_seconds_bucket{le=\"0.0001\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("havip_event_to_effect_seconds_bucket{le=\"0.0025\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("havip_event_to_effect_seconds_bucket{le=\"0.005\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("havip_event_to_effect_seconds_bucket{le=\"1\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("havip_event_to_effect_seconds_bucket{le=\"+Inf\"} 4\n"));
  EXPECT_THAT(text, HasSubstr("havip_event_to_effect_seconds_count 4\n"));
  EXPECT_THAT(text, HasSubstr("havip_event_to_effect_seconds_sum 5.00313\n"));
}

TEST(Metrics, SampleValues) {
  EXPECT_EQ(format_sample(0), "0");
  EXPECT_EQ(format_sample(42), "42");
  EXPECT_EQ(format_sample(0.25), "0.25");
  EXPECT_EQ(format_sample(1e20), "1e+20");
  EXPECT_EQ(format_sample(std::numeric_limits<double>::infinity()), "+Inf");
}

}  // namespace
}  // namespace havip
