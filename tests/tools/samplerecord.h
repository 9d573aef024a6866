#pragma once
// A plausible, valid server record for tests and fuzz seeds: blocks [2, 6) of an 8-block
// model, announced at `nowMs` for a minute.

#include <cstdint>
#include <string>

#include "net/corolla.pb.h"

namespace corolla {

inline proto::ServerRecord sampleServerRecord(const std::string &peerId, std::int64_t nowMs)
{
    proto::ServerRecord record;
    record.set_model_id("tiny@0123456789abcdef");
    record.set_num_blocks(8);
    record.set_peer_id(peerId);
    record.add_addresses("127.0.0.1:4000");
    record.set_state(proto::STATE_ONLINE);
    record.set_start(2);
    record.set_end(6);
    record.set_throughput(10.0);
    record.set_inference_rps(40.0);
    record.set_forward_rps(400.0);
    record.set_dtype("bf16");
    record.set_cache_tokens_left(1024);
    record.set_version("0.1.0");
    record.set_public_name("alice");
    record.set_announced_at_ms(nowMs);
    record.set_expires_at_ms(nowMs + 60000);
    return record;
}

} // namespace corolla
