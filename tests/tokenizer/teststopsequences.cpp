// Stop sequences over streamed text: the answer ends right before the first stop sequence,
// wherever the pieces split it, and nothing of it is ever shown.

#include <QtTest>

#include "tokenizer/stopsequences.h"

using namespace corolla;

class TestStopSequences : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void endsBeforeTheFirstStopInAnySplit()
    {
        const std::string text = "The answer is 42.\nUser: more?";
        for (std::size_t split = 1; split <= 5; ++split) {
            StopSequences stops({"\nUser:", "###"});
            std::string shown;
            for (std::size_t i = 0; i < text.size() && !stops.stopped(); i += split)
                shown += stops.push(text.substr(i, split));
            QVERIFY(stops.stopped());
            QCOMPARE(shown, std::string("The answer is 42."));
            QCOMPARE(stops.finish(), std::string());
        }
    }

    void holdsBackOnlyWhatCouldBeAStop()
    {
        StopSequences stops({"END"});
        QCOMPARE(stops.push("abc E"), std::string("abc "));
        QCOMPARE(stops.push("N"), std::string());
        QCOMPARE(stops.push("x"), std::string("ENx")); // not a stop after all
        QCOMPARE(stops.push("EN"), std::string());
        QCOMPARE(stops.finish(), std::string("EN")); // the answer ended without one
        QVERIFY(!stops.stopped());
    }

    void noSequencesPassEverything()
    {
        StopSequences stops({});
        QCOMPARE(stops.push("anything"), std::string("anything"));
        StopSequences empty({""});
        QCOMPARE(empty.push("x"), std::string("x"));
        QVERIFY(!empty.stopped());
    }

    void earliestOfSeveralWins()
    {
        StopSequences stops({"cd", "b"});
        QCOMPARE(stops.push("abcd"), std::string("a"));
        QCOMPARE(stops.push("more"), std::string());
    }
};

QTEST_GUILESS_MAIN(TestStopSequences)
#include "teststopsequences.moc"
