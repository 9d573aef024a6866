#pragma once
// The models the app offers to download: a short list known to run on Corolla, each with
// its size in every weight format, computed from its config as the server's memory plan
// computes it.
// Thread: any; pure functions.

#include <QByteArray>
#include <QList>
#include <QString>

namespace corolla {

struct CatalogModel {
    QString id;         // ORG/NAME on the Hub
    QString family;     // model_type
    QString parameters; // "1.1B"
    QString note;       // "gated: accept the licence on the Hub first"
    qint64 blocks = 0;
    // The whole model: blocks in the format, embeddings and LM head in bf16; -1 where the
    // format cannot pack this model.
    qint64 bytesBf16 = 0;
    qint64 bytesInt8 = 0;
    qint64 bytesNf4 = 0;
};

// The entries of `catalogJson` ({"models": [{"id", "parameters", "note", "config": {...}}]},
// the config as the model's config.json has it). An entry whose config Corolla cannot run
// is left out; the error says which and why.
QList<CatalogModel> parseModelCatalog(const QByteArray &catalogJson, QString *error = nullptr);

} // namespace corolla
