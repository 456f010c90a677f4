// A child's output: lines, escaping, the per-window budget and what is said
// about the output that was not logged.
#include "effects/child_output.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "effects/proc_children.h"

namespace havip {
namespace {

using ::testing::ElementsAre;

struct Recorder {
  std::vector<std::string> lines;
  ChildOutput out{[this](std::string_view l) { lines.emplace_back(l); }};
};

TimePoint at(int ms) { return TimePoint(Millis(ms)); }

// A string literal with its NUL bytes.
template <std::size_t N>
std::string bytes(const char (&s)[N]) {
  return std::string(s, N - 1);
}

TEST(EscapeOutput, ControlCharactersNulAndBackslashAreEscaped) {
  EXPECT_EQ(escape_output(bytes("a\x1b[31mb\0c\td\x7f\\")),
            "a\\x1b[31mb\\x00c\\x09d\\x7f\\\\");
  EXPECT_EQ(escape_output("grüße"), "grüße");
}

TEST(HumanBytes, SaysTheSizeAsAnOperatorReadsIt) {
  EXPECT_EQ(human_bytes(512), "512 B");
  EXPECT_EQ(human_bytes(12345), "12.3 kB");
  EXPECT_EQ(human_bytes(1234567), "1.2 MB");
  EXPECT_EQ(human_bytes(3'000'000'000ull), "3.0 GB");
}

TEST(ChildOutput, LinesAreLoggedWhateverPiecesTheyCameIn) {
  Recorder r;
  r.out.feed("one\ntw", at(0));
  r.out.feed("o\nthree", at(1));
  EXPECT_THAT(r.lines, ElementsAre("one", "two"));
  r.out.finish();
  EXPECT_THAT(r.lines, ElementsAre("one", "two", "three"));
}

TEST(ChildOutput, ARunawayLineIsLoggedInPieces) {
  Recorder r;
  r.out.feed(std::string(ChildOutput::kMaxLine * 2 + 10, 'x'), at(0));
  r.out.finish();
  ASSERT_EQ(r.lines.size(), 3u);
  EXPECT_EQ(r.lines[0].size(), ChildOutput::kMaxLine);
  EXPECT_EQ(r.lines[2].size(), 10u);
}

TEST(ChildOutput, BeyondTheBudgetLinesAreCountedAndSaidWhenTheWindowEnds) {
  Recorder r;
  std::string flood;
  for (std::size_t i = 0; i < ChildOutput::kBurstLines + 1000; ++i) flood += "y\n";
  r.out.feed(flood, at(0));
  EXPECT_EQ(r.lines.size(), ChildOutput::kBurstLines);
  EXPECT_TRUE(r.out.throttled(at(1)));
  EXPECT_EQ(r.out.dropped_bytes(), 2000u);
  // The next window: what was dropped is said first, then lines flow again.
  r.out.feed("back\n", at(10000));
  EXPECT_FALSE(r.out.throttled(at(10001)));
  ASSERT_EQ(r.lines.size(), ChildOutput::kBurstLines + 2);
  EXPECT_EQ(r.lines[ChildOutput::kBurstLines],
            "2.0 kB of output not logged (1000 lines; more than 200 lines or 65.5 kB in 10 s)");
  EXPECT_EQ(r.lines.back(), "back");
}

TEST(ChildOutput, WhatWasDroppedIsSaidWhenTheChildIsGone) {
  Recorder r;
  std::string budget;
  for (std::size_t i = 0; i < ChildOutput::kBurstLines; ++i) budget += "x\n";
  r.out.feed(budget, at(0));
  r.out.feed(std::string(2499, 'z') + "\n" + std::string(2499, 'z') + "\n", at(5));
  EXPECT_EQ(r.lines.size(), ChildOutput::kBurstLines);
  r.out.finish();
  EXPECT_THAT(r.lines.back(), ::testing::StartsWith("5.0 kB of output not logged (2 lines;"));
}

TEST(ChildOutput, ControlCharactersNeverReachTheLog) {
  Recorder r;
  r.out.feed(bytes("\x1b]0;pwned\x07\0\n"), at(0));
  EXPECT_THAT(r.lines, ElementsAre("\\x1b]0;pwned\\x07\\x00"));
}

TEST(ProcParse, StatFieldsAreCountedFromTheLastParenthesis) {
  auto ids = proc::parse_stat("1234 (a) b (c) S 1 1230 1229 0 -1 4194560");
  ASSERT_TRUE(ids);
  EXPECT_EQ(ids->pgid, 1230);
  EXPECT_EQ(ids->sid, 1229);
  EXPECT_EQ(ids->state, 'S');
  EXPECT_EQ(proc::parse_stat("7 (x) Z 1 7 7 0 -1 0")->state, 'Z');
  EXPECT_FALSE(proc::parse_stat("1234 (sleep"));
  EXPECT_FALSE(proc::parse_stat("1234 (sleep) S 1"));
}

TEST(ProcParse, EnvironValuesAreFoundByTheirWholeKey) {
  std::string env = bytes("PATH=/bin\0HAVIP_ROUTERX=no\0HAVIP_ROUTER=edge1\0");
  EXPECT_EQ(proc::parse_environ(env, "HAVIP_ROUTER"), "edge1");
  EXPECT_EQ(proc::parse_environ(env, "HOME"), std::nullopt);
}

TEST(ProcParse, ChildrenListsEveryPid) {
  std::set<pid_t> pids;
  proc::parse_children("12 345 ", pids);
  proc::parse_children("7", pids);
  EXPECT_THAT(pids, ElementsAre(7, 12, 345));
}

}  // namespace
}  // namespace havip
