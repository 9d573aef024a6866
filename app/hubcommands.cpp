// download: a Hub model into the shared Hugging Face cache.

#include <algorithm>
#include <cstdio>

#include "app/commandparser.h"
#include "app/commands.h"
#include "app/modelsource.h"
#include "app/swarmoptions.h"
#include "core/bytesize.h"

namespace corolla {

int runDownload(const QStringList &arguments)
{
    CommandParser parser(
        QStringLiteral("download"),
        QStringLiteral("Downloads a model from the Hugging Face Hub into the shared cache "
                       "($HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub) and "
                       "prints its snapshot folder as the last line. Without --include: the "
                       "config, tokenizer and safetensors weights. Environment: HF_ENDPOINT, "
                       "HF_TOKEN, HF_HUB_OFFLINE."));
    parser.addPositional(QStringLiteral("MODEL"),
                         QStringLiteral("ORG/NAME, or ORG/NAME@REVISION for a branch, tag or "
                                        "commit"));
    parser.addValueOption(QStringLiteral("include"), QStringLiteral("GLOB"),
                          QStringLiteral("only files matching this pattern (repeatable; '*' "
                                         "fetches the whole repository)"));
    parser.addValueOption(QStringLiteral("blocks"), QStringLiteral("A:B"),
                          QStringLiteral("only the weight shards that hold blocks [A, B)"));
    parser.addFlag(QStringLiteral("client"),
                   QStringLiteral("only the shards a swarm client needs (embeddings, LM head)"));
    int exitCode = 0;
    if (!parser.parse(arguments, exitCode))
        return exitCode;
    auto ref = parseRepoRef(parser.positional(0).toStdString());
    if (!ref)
        parser.error(QString::fromStdString(ref.error().message));
    FileSelection selection;
    selection.includes = parser.values(QStringLiteral("include"));
    selection.clientPart = parser.isSet(QStringLiteral("client"));
    if (parser.isSet(QStringLiteral("blocks"))) {
        if (auto range = parseBlockRange(parser.value(QStringLiteral("blocks"))))
            selection.blocks = *range;
        else
            parser.error(QString::fromStdString(range.error().message));
    }
    if (!selection.includes.isEmpty() && (selection.blocks || selection.clientPart))
        parser.error(QStringLiteral("--include names the files itself; give it without "
                                    "--blocks and --client"));
    if (parser.failed())
        return 2;

    std::stop_source stop;
    onTerminationSignal([&stop] { stop.request_stop(); });
    HubDownloader downloader(terminalDownloadOptions(stop.get_token()));
    auto snapshot = downloader.fetch(*ref, selection);
    if (!snapshot)
        return reportError("download", snapshot.error().toString());
    const HubDownloader::Totals &totals = downloader.totals();
    if (totals.files > 0)
        std::fprintf(
            stderr, "fetched %d file%s, %s in %.3f s (%s/s)\n", totals.files,
            totals.files == 1 ? "" : "s", formatBytes(totals.bytes).c_str(), totals.seconds,
            formatBytes(std::int64_t(double(totals.bytes) / std::max(totals.seconds, 1e-9)))
                .c_str());
    else
        std::fprintf(stderr, "everything was in the cache already\n");
    std::printf("%s\n", qPrintable(*snapshot));
    return 0;
}

} // namespace corolla
