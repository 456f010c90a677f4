"""havip_testlib: what the kernel tier, the e2e tier and bench/ra_gap.py share.

    proc       run(), which(), wait_for(), /proc look-ups, stopping a process we started
    netns      namespace name prefixes, the availability probe (the tiers' skip reason),
               leftover clean-up, Netns / NetnsFactory, bridges, veths, carrier
    topology   the e2e / ra-gap topology (a switch namespace with br-ha and br-int, two
               router namespaces, a client), the havipd and radvd configuration for it,
               rdisc6
    keepalived keepalived.conf as Neutron writes it, and one keepalived process
    packets    AF_PACKET sockets and the decoding of RAs, neighbour adverts and VRRP
    tier       the pytest side: havipd's binary, a tier's probe, skip and leftovers,
               work directories

Users put this directory's parent (tests/lib) on sys.path first:

    sys.path.insert(0, str(REPO / "tests" / "lib"))

Every namespace a user creates is named with its own prefix (``havip<letter>-<pid>-``,
see netns.run_prefix), so tiers and runs never collide; the only processes anything here
ends are the ones its user started, or ones running inside that user's own namespaces,
by PID.
"""
