// Route planning: the cheapest chain of spans, measured latency over announced speed, spans
// split across servers, failures and full caches avoided, missing blocks named.

#include <QtTest>

#include "client/routeplanner.h"

using namespace corolla;

namespace {

ServerCandidate server(const std::string &id, std::int64_t start, std::int64_t end, double rttMs,
                       double rps = 100.0)
{
    ServerCandidate candidate;
    candidate.peerId = id;
    candidate.start = start;
    candidate.end = end;
    candidate.rttMs = rttMs;
    candidate.inferenceRps = rps;
    candidate.forwardRps = rps * 10;
    candidate.cacheTokensLeft = 4096;
    return candidate;
}

std::string describe(const std::vector<RouteHop> &route)
{
    std::string text;
    for (const RouteHop &hop : route)
        text += hop.peerId + "[" + std::to_string(hop.start) + "," + std::to_string(hop.end) + ")";
    return text;
}

} // namespace

class TestRoutes : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void chainCoversEveryBlock()
    {
        auto route = planRoute({server("a", 0, 4, 1), server("b", 4, 8, 1)}, 0, 8,
                               RouteKind::Inference, 100);
        QVERIFY(route);
        QCOMPARE(describe(*route), std::string("a[0,4)b[4,8)"));
    }

    void fewerHopsWinWhenServersAreAlike()
    {
        auto route = planRoute({server("a", 0, 4, 5), server("b", 4, 8, 5), server("all", 0, 8, 5)},
                               0, 8, RouteKind::Inference, 100);
        QCOMPARE(describe(*route), std::string("all[0,8)"));
    }

    void nearServersBeatFarOnes()
    {
        const std::vector<ServerCandidate> servers{server("head", 0, 2, 1), server("far", 2, 4, 80),
                                                   server("near", 2, 4, 2)};
        QCOMPARE(describe(*planRoute(servers, 0, 4, RouteKind::Inference, 100)),
                 std::string("head[0,2)near[2,4)"));
        // Unknown latency is priced as a typical internet round trip, not as zero.
        std::vector<ServerCandidate> unknown = servers;
        unknown[2].rttMs = -1;
        QCOMPARE(describe(*planRoute(unknown, 0, 4, RouteKind::Inference, 100)),
                 std::string("head[0,2)near[2,4)"));
        unknown[1].rttMs = 200;
        QCOMPARE(describe(*planRoute(unknown, 0, 4, RouteKind::Inference, 100)),
                 std::string("head[0,2)near[2,4)"));
    }

    void slowComputeCanOutweighLatency()
    {
        // 8 blocks at 10 steps/s cost 800 ms: a far but fast server wins.
        const std::vector<ServerCandidate> servers{server("slow", 0, 8, 1, 10),
                                                   server("fast", 0, 8, 60, 1000)};
        QCOMPARE(describe(*planRoute(servers, 0, 8, RouteKind::Inference, 100)),
                 std::string("fast[0,8)"));
    }

    void spansMaySplitAnywhere()
    {
        // b overlaps a: the route may leave a early or enter b late.
        auto route = planRoute({server("a", 0, 6, 1), server("b", 3, 8, 1)}, 0, 8,
                               RouteKind::Inference, 100);
        QCOMPARE(route->size(), std::size_t(2));
        QCOMPARE(route->front().start, std::int64_t(0));
        QCOMPARE(route->back().end, std::int64_t(8));
        QCOMPARE(route->front().end, route->back().start);
        // A sub-range, as a failover re-plans only the lost blocks.
        QCOMPARE(describe(*planRoute({server("a", 0, 6, 1), server("b", 3, 8, 1)}, 4, 6,
                                     RouteKind::Inference, 100)),
                 std::string("a[4,6)"));
    }

    void failuresAndFullCachesAreAvoided()
    {
        std::vector<ServerCandidate> servers{server("flaky", 0, 4, 1), server("steady", 0, 4, 20)};
        servers[0].recentFailures = 1;
        QCOMPARE(describe(*planRoute(servers, 0, 4, RouteKind::Inference, 100)),
                 std::string("steady[0,4)"));
        servers[0].recentFailures = 0;
        servers[0].cacheTokensLeft = 50;
        QCOMPARE(describe(*planRoute(servers, 0, 4, RouteKind::Inference, 100)),
                 std::string("steady[0,4)"));
        // Forward passes keep no cache: the full one is fine for them.
        QCOMPARE(describe(*planRoute(servers, 0, 4, RouteKind::Forward, 100)),
                 std::string("flaky[0,4)"));
    }

    void missingBlocksAreNamed()
    {
        auto route = planRoute({server("a", 0, 2, 1), server("b", 5, 8, 1)}, 0, 8,
                               RouteKind::Inference, 100);
        QVERIFY(!route);
        QCOMPARE(route.error().code, ErrorCode::NotFound);
        QCOMPARE(route.error().message, std::string("no server holds blocks 2-4"));
        QCOMPARE(blockListText({1, 3, 4, 5, 9}), std::string("1, 3-5, 9"));
        QVERIFY(planRoute({}, 3, 3, RouteKind::Inference, 1)->empty());
    }
};

QTEST_GUILESS_MAIN(TestRoutes)
#include "testroutes.moc"
