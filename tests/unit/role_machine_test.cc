// The role machine alone; the scenario tier drives it through the Engine.
#include <gtest/gtest.h>

#include "core/role_machine.h"

namespace havip {
namespace {

const TimePoint t0 = TimePoint(std::chrono::hours(1));
constexpr Millis hold(2000);

TEST(RoleMachine, AbsentIsBackupAtOnce) {
  RoleMachine m(hold);
  EXPECT_EQ(m.observe(std::nullopt, t0), (Transition{Role::unknown, Role::backup}));
  EXPECT_EQ(m.observe(std::nullopt, t0), std::nullopt);
}

TEST(RoleMachine, PresentWaitsForTheHoldDownMeasuredFromSince) {
  RoleMachine m(hold, Role::backup);
  EXPECT_EQ(m.observe(t0, t0 + Millis(500)), std::nullopt);
  EXPECT_EQ(m.deadline(), t0 + hold);
  EXPECT_EQ(m.expire(t0 + Millis(1999)), std::nullopt);
  EXPECT_EQ(m.expire(t0 + hold), (Transition{Role::backup, Role::primary}));
  EXPECT_EQ(m.deadline(), std::nullopt);
}

TEST(RoleMachine, OldEnoughIsPrimaryAtOnce) {
  RoleMachine m(hold);
  EXPECT_EQ(m.observe(t0, t0 + hold), (Transition{Role::unknown, Role::primary}));
}

TEST(RoleMachine, AbsenceDropsAPendingPrimary) {
  RoleMachine m(hold, Role::backup);
  m.observe(t0, t0);
  EXPECT_EQ(m.observe(std::nullopt, t0 + Millis(10)), std::nullopt);
  EXPECT_EQ(m.expire(t0 + hold), std::nullopt);
}

TEST(RoleMachine, ForgetIsUnknownAndDropsPending) {
  RoleMachine m(hold, Role::backup);
  m.observe(t0, t0);
  EXPECT_EQ(m.forget(), (Transition{Role::backup, Role::unknown}));
  EXPECT_EQ(m.deadline(), std::nullopt);
  EXPECT_EQ(m.forget(), std::nullopt);
}

TEST(RoleMachine, FaultIsAtOnceAndDropsPending) {
  RoleMachine m(hold, Role::backup);
  m.observe(t0, t0);
  EXPECT_EQ(m.fault(), (Transition{Role::backup, Role::fault}));
  EXPECT_EQ(m.deadline(), std::nullopt);
  EXPECT_EQ(m.fault(), std::nullopt);
}

TEST(RoleMachine, FromFaultAsFromBackup) {
  RoleMachine a(hold, Role::fault);
  EXPECT_EQ(a.observe(std::nullopt, t0), (Transition{Role::fault, Role::backup}));
  RoleMachine b(hold, Role::fault);
  EXPECT_EQ(b.observe(t0, t0), std::nullopt);
  EXPECT_EQ(b.expire(t0 + hold), (Transition{Role::fault, Role::primary}));
}

TEST(Roles, AFaultIsABackupToTheStateFileAndNeutron) {
  EXPECT_EQ(role_name(Role::fault), "fault");
  EXPECT_EQ(told_role(Role::fault), Role::backup);
  EXPECT_EQ(told_role(Role::primary), Role::primary);
  EXPECT_EQ(told_role(Role::backup), Role::backup);
}

}  // namespace
}  // namespace havip
