#pragma once
// The headless modes of the `corolla` binary; each takes its arguments with the command
// name first and returns the process exit code.
// Thread: main.

#include <QStringList>

namespace corolla {

int runMakeTestModel(const QStringList &arguments);
int runLogits(const QStringList &arguments);
int runGenerate(const QStringList &arguments);
int runBench(const QStringList &arguments);
int runTokenize(const QStringList &arguments);
int runDetokenize(const QStringList &arguments);
int runChatTemplate(const QStringList &arguments);
int runTokenizerBench(const QStringList &arguments);
int runSwarmBench(const QStringList &arguments);
int runSoakBench(const QStringList &arguments);
int runApiBench(const QStringList &arguments);
int runFinetuneBench(const QStringList &arguments);
int runChat(const QStringList &arguments);
int runServe(const QStringList &arguments);
int runSwarm(const QStringList &arguments);
int runBootstrap(const QStringList &arguments);
int runDownload(const QStringList &arguments);
int runApi(const QStringList &arguments);
int runFinetune(const QStringList &arguments);
// `corolla --version`: version, source commit, libtorch and Qt, and the devices.
int printVersion();

} // namespace corolla
