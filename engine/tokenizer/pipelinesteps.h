#pragma once
// The "Sequence" of each tokenizer.json stage (normalizers, pre-tokenizers, decoders): a
// list of stage objects parsed with the stage's own fromJson, null entries skipped.
// Thread: any.

#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace corolla {

template <typename Stage>
Result<std::vector<std::unique_ptr<Stage>>> parsePipelineSteps(const nlohmann::json &json,
                                                               const char *key)
{
    std::vector<std::unique_ptr<Stage>> steps;
    for (const auto &step : json.value(key, nlohmann::json::array())) {
        auto stage = Stage::fromJson(step);
        if (!stage)
            return stage.error();
        if (*stage)
            steps.push_back(std::move(stage).value());
    }
    return steps;
}

} // namespace corolla
