// corolla: one binary for every role. `corolla <command> [options]` runs a headless mode.

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <thread>

#ifdef __linux__
#include <unistd.h>
#endif

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include <QCoreApplication>

#include "app/commands.h"
#ifdef COROLLA_GUI
#include "app/guicommands.h"
#endif

namespace {

struct Command {
    const char *name;
    int (*run)(const QStringList &);
    const char *summary;
};

constexpr Command kCommands[] = {
    {"generate", corolla::runGenerate, "generate tokens, on this machine or on a swarm"},
    {"chat", corolla::runChat, "chat with a model in the terminal, on this machine or on a swarm"},
    {"logits", corolla::runLogits, "write the logits of every position as a .npy file"},
    {"make-test-model", corolla::runMakeTestModel,
     "write a checkpoint with deterministic random weights"},
    {"tokenize", corolla::runTokenize, "print the token ids of a text"},
    {"detokenize", corolla::runDetokenize, "print the text of token ids"},
    {"chat-template", corolla::runChatTemplate,
     "render a conversation with the model's chat template"},
    {"download", corolla::runDownload,
     "download a model from the Hugging Face Hub into the shared cache"},
    {"api", corolla::runApi, "serve an OpenAI-compatible HTTP API over a model or a swarm"},
    {"finetune", corolla::runFinetune,
     "train prompts (prompt tuning) on this machine or through a swarm"},
    {"serve", corolla::runServe, "serve a range of a model's blocks to the swarm"},
    {"swarm", corolla::runSwarm, "show the servers of a model in the swarm"},
    {"bootstrap", corolla::runBootstrap, "run a DHT node that peers join the swarm through"},
    {"bench", corolla::runBench,
     "measure: bench local, bench swarm, bench soak, bench tokenizer, bench api, "
     "bench finetune"},
};

void printUsage(FILE *stream)
{
    std::fprintf(
        stream, "Usage: corolla [--minimized]       open the desktop app (minimized: to the tray)\n"
                "       corolla screenshots [options] render the app's screens to PNG files\n"
                "       corolla <command> [options]   run a headless mode\n"
                "       corolla --version             print the version, the source commit and "
                "the devices\n\nCommands:\n");
    for (const Command &command : kCommands)
        std::fprintf(stream, "  %-16s %s\n", command.name, command.summary);
    std::fprintf(stream, "\nRun 'corolla <command> --help' for a command's options.\n");
}

// libgomp spins for a long while after each parallel region before its threads sleep. A
// server idles between steps, and the peers of a swarm on one machine (a client and its
// servers, the desktop app and a `corolla serve`) take turns on the same cores: long spins
// steal the CPU from whoever computes next, and burn it for nothing on a volunteer's machine.
// libgomp reads GOMP_SPINCOUNT once, when it loads, so a short spin needs a fresh start.
void preferShortOpenMpSpins(int argc, char **argv)
{
#ifdef __linux__
    if (std::getenv("GOMP_SPINCOUNT") || std::getenv("OMP_WAIT_POLICY"))
        return;
    // The desktop app serves and chats too.
    const char *command = argc < 2 ? "serve" : argv[1];
    for (const char *longRunning :
         {"serve", "bench", "chat", "generate", "finetune", "screenshots", "--minimized"}) {
        if (std::strcmp(command, longRunning) == 0) {
            ::setenv("GOMP_SPINCOUNT", "10000", 1);
            ::execv("/proc/self/exe", argv); // returns only on failure: then run as we are
            return;
        }
    }
#else
    (void)argc;
    (void)argv;
#endif
}

// libtorch starts with one thread on some builds; use every core unless told otherwise.
void useEveryCore()
{
    int threads = int(std::max(1u, std::thread::hardware_concurrency()));
    if (const char *requested = std::getenv("COROLLA_NUM_THREADS");
        requested && std::atoi(requested) > 0)
        threads = std::atoi(requested);
    at::set_num_threads(threads);
}

} // namespace

int main(int argc, char **argv)
{
    preferShortOpenMpSpins(argc, argv);
    useEveryCore();
#ifdef COROLLA_GUI
    if (corolla::isDesktopInvocation(argc, argv))
        return corolla::runDesktop(argc, argv);
#endif
    QCoreApplication application(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("Corolla"));
    QCoreApplication::setOrganizationName(QStringLiteral("Corolla"));
    QCoreApplication::setApplicationVersion(QStringLiteral(COROLLA_VERSION));

    const QStringList arguments = QCoreApplication::arguments().mid(1);
    if (arguments.isEmpty() || arguments.front() == QLatin1String("--help")
        || arguments.front() == QLatin1String("-h")) {
        printUsage(arguments.isEmpty() ? stderr : stdout);
        return arguments.isEmpty() ? 2 : 0;
    }
    if (arguments.front() == QLatin1String("--version")) {
        return corolla::printVersion();
    }
    for (const Command &command : kCommands) {
        if (arguments.front() != QLatin1String(command.name))
            continue;
        try {
            return command.run(arguments);
        } catch (const c10::Error &error) {
            // Expected failures come back as Result errors; this is a bug or an exhausted
            // machine, reported rather than aborting with a core dump.
            std::fprintf(stderr, "corolla %s: internal error: %s\n", command.name,
                         error.what_without_backtrace());
        } catch (const std::exception &error) {
            std::fprintf(stderr, "corolla %s: internal error: %s\n", command.name, error.what());
        }
        return 3;
    }
    std::fprintf(stderr, "corolla: unknown command '%s'\n\n", qPrintable(arguments.front()));
    printUsage(stderr);
    return 2;
}
