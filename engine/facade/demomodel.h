#pragma once
// The demo model that ships with the app: a small Llama-shaped checkpoint with fixed random
// weights, a byte-level tokenizer and a chat template. It is generated from its seed on
// first use rather than stored, so the installer stays small and the model is the same
// on every machine (the same model id, so demo peers on one network meet).
// Thread: any (writes files; the engine thread calls it).

#include <QString>

#include "core/result.h"

namespace corolla {

// The demo model's folder under `dataFolder`, written there first if it is not complete.
Result<QString> ensureDemoModel(const QString &dataFolder);

} // namespace corolla
