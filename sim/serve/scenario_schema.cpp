#include <string>

#include "sim/serve/scenario.hpp"

namespace moesim::serve {

std::string scenario_schema() {
  return R"(SCENARIO (moesim run SCENARIO.yaml [--set key.path=value ...])
Quantities carry units ("2 us", "35136 B", "50 GB/s"); a bare number for a time, size or rate
is an error. --set a.b.c=value (value parsed as YAML) replaces a key or adds an optional one the
file leaves out (--set routing.popularity={kind: zipf, exponent: 0.6}); a misspelt key is an error.

name                 text, optional          label of the run (default: the file name)
description          text, optional
model                name | path | map       model card (models/NAME.yaml), for the step-time model
system               name | path | map       system (topologies/systems/NAME.yaml); a map is handed
                                             to the system builder and needs `name`, the
                                             catalog name used for the price sheet
precision            map, optional           {weights, activations, kv_cache, attention, dispatch,
                                             combine}: data types, for the step-time model (e.g.
                                             weights nvfp4, activations fp8, kv_cache fp8,
                                             dispatch fp4: the MoE all-to-all payloads);
                                             weights also takes fp8 (= fp8_block128), fp4
                                             (= nvfp4), int4 (= mxfp4, W4A16) and w4a8
                                             (= mxfp4 weights, fp8 activations)
seed                 integer >= 0            seed of every random stream (workload draws, MTP
                                             acceptance, routing draws); the same seed gives the
                                             same output, bit for bit
prices               name | path, optional   price and power sheet (default: topologies/prices.yaml)
stack                name | path, optional   software stack that prices the kernels
                                             (topologies/stacks/: trtllm, sglang, roofline, ...;
                                             default: the system's `stack`)

deployment           map                     either `aggregated`, or `prefill` and `decode`
  aggregated         POOL                    instances serving prefill and decode together
  prefill            POOL                    disaggregated: prefill-only instances
  decode             POOL                    disaggregated: decode-only instances
  kv_bytes_per_token size, optional          KV bytes moved per prompt token prefill -> decode
                                             (default: from the model and precision, e.g.
                                             DeepSeek-R1 MLA FP8: 576 x 61 = 35136 B)
  kv_transfer        map, optional           fixed-rate transfers instead of the network model:
    latency          duration                per transfer
    bandwidth        data rate               per transfer, links not shared

POOL (a map)
  instances          integer >= 1, default 1 engine instances (model copies) in the pool
  tp                 integer >= 1, default 1 GPUs per pipeline stage of an instance
  ep                 integer >= 1, default 1 expert-parallel width; divides tp
  attention_dp       integer >= 1, default 1 attention data-parallel ranks; divides tp; each
                                             rank batches its own sequences and holds their KV
  pp                 integer >= 1, default 1 pipeline stages; an instance has tp x pp GPUs
  max_batch_size     integer >= 1            running sequences per attention-DP rank
  max_num_tokens     integer >= 1            new tokens per step per rank (prefill chunk tokens +
                                             (1 + draft tokens) per decode)
  chunked_prefill_size integer >= 0, default 0  prefill tokens per step per rank; 0: prompts are
                                             not split (a prompt longer than max_num_tokens runs
                                             alone in its own step)
  kv_block_size      integer >= 1, default 32 tokens per KV block (TensorRT-LLM
                                             KvCacheConfig.tokens_per_block default)
  kv_policy          guaranteed_no_evict | max_utilization, default guaranteed_no_evict
                                             guaranteed_no_evict (TensorRT-LLM's default) reserves
                                             input + output + draft tokens at admission and never
                                             preempts; max_utilization allocates as sequences grow
                                             and preempts the newest (recompute, as vLLM)
  kv_memory_fraction number in (0, 1], default 0.9  share of free GPU memory for the KV cache
                                             (TensorRT-LLM free_gpu_memory_fraction default)
  kv_capacity_tokens integer >= 1, optional  KV tokens per instance (all ranks); default: from
                                             the memory left after weights and activations
  plan               map, optional           further parallel-plan options for the step-time
                                             model (expert placement, micro-batches, ...)
  system             name | path | map, optional  disaggregated only: the system this pool
                                             runs on (mixed hardware, e.g. hgx-h200 prefill and
                                             gb200-nvl72 decode; default: the top-level system).
                                             Its GPUs, HBM, NVLink domain and default stack
                                             price the pool (a top-level `stack` only where it
                                             covers the pool's GPU), its price-sheet entry the
                                             pool's GPU-hours and energy; KV caches move between
                                             pools on different systems over the scale-out NICs
                                             only, at the slower side's per-GPU rate

speculative          map, optional           speculative decoding
  method             none | mtp
  draft_tokens       integer >= 1            k draft tokens verified per decode step
  acceptance         number | list of k numbers, default: the model card's rates
                                             conditional acceptance rate of each draft position
                                             (a number: the same for all); expected tokens per
                                             step = 1 + sum_i prod_{j<=i} a_j. Absent: the first
                                             k rates of the model card's mtp.acceptance (an
                                             error when it gives fewer than k). Acceptance
                                             depends on the data served; a card's rates were
                                             measured on one dataset (its source says which)

runtime              map, optional
  step_overhead      duration, default "0 s" host time per step (scheduling, sampling) added
                                             to the step-time model's; launches are priced by
                                             the step-time model. When 0 and overlap_scheduler
                                             is false, the plan-based model adds the sourced
                                             fraction overheads.step_host_fraction (10 % of
                                             the GPU step, topologies/efficiency.yaml)
  overlap_scheduler  bool, default false     the host work of step n+1 overlaps step n: only
                                             max(0, step_overhead - previous step) is exposed
  cuda_graphs        bool, default true      for the step-time model's launch overheads
  scheduler          map, optional           how the engine batches; default: the stack's
                                             engine.scheduler (trtllm: least_loaded, no
                                             balance; sglang: round_robin, steps not mixed),
                                             else as below
    dp_routing       least_loaded | round_robin, default least_loaded  which attention-DP
                                             rank gets a new request: the one with the fewest
                                             sequences (TensorRT-LLM), or each in turn (SGLang)
    adp_balance      false | {timeout_iters: N, batching_wait_iters: M}, default false
                                             TensorRT-LLM's attention-DP balance (tech blog
                                             10): context runs only when every rank has some,
                                             held at most N steps, gathered M more steps
    prefill_interval integer >= 1, default 1 admit new prompts every N steps while decodes
                                             run (vLLM-like prefill scheduling interval)
    mixed_batches    bool, default true      prefill chunks and decodes share a step
                                             (TensorRT-LLM, vLLM); false: a step prefills when
                                             it can, else decodes (SGLang's default)
                     With attention DP each rank batches on its own; a step lasts as long as
                     the busiest rank's own work plus the MoE exchange of all ranks' tokens,
                     so a prompt on one rank stalls the others (run reports the balance).

routing              map, optional           MoE routing of the step-time model
  popularity         uniform | map, default uniform  expert popularity: uniform, the optimistic
                                             bound (real routing is skewed); {kind: zipf,
                                             exponent: 1.2}, ranks in a seeded shuffled order
                                             per MoE layer (add seed: 7 for another, or
                                             order: identity for expert 0 hottest in every
                                             layer); or {kind: counts, file: trace.csv}, the
                                             per-expert counts of a routing trace. EPLB
                                             replicas follow the popularity

step_model           map, optional           replace the hardware step-time model (tests):
  impl               analytic
  fixed              duration                per step
  per_token          duration                per new token
  per_kv_token       duration                per context token (after the step)
                                             duration = fixed + max over ranks of
                                             (per_token x tokens + per_kv_token x contexts)

workload             name | path | map       workloads/NAME.yaml, a path, an inline WORKLOAD, or
                                             {preset: NAME, overrides: {...}}

WORKLOAD (a map)
  description        text, optional
  requests           integer >= 1            requests sent, warm-up included (a trace: default
                                             all its rows)
  warmup             integer >= 0, default 0 the first requests, served but not measured
  arrival            map
    process          closed_loop | poisson | trace
    concurrency      integer >= 1            closed_loop: requests in flight; each completion
                                             sends the next
    rate             "N req/s" | "N req/min" poisson: mean arrival rate (first at time 0)
  trace              path, optional          CSV, header input_tokens,output_tokens[,arrival_s]
                                             [,class]; relative to the workload file
  classes            list of CLASS, optional several request classes mixed by weight; without
                                             it, name/isl/osl/sla sit directly in the workload
CLASS
  name               text, default "default" (single class) or "classN"
  weight             number > 0, default 1   relative share of requests
  isl                LENGTH                  input tokens (not with a trace)
  osl                LENGTH                  output tokens (not with a trace)
  sla                map, optional           {ttft: duration, tpot: duration}: limits for goodput
LENGTH               one of
  integer >= 1                               fixed
  {dist: uniform, min, max}                  integers in [min, max], inclusive (trtllm-bench)
  {dist: normal, mean, stdev}                max(1, ceil(x)), x ~ N(mean, stdev) (trtllm-bench)
  {dist: lognormal, mean, stdev}             a long tail: the mean and stdev of the token count
  {dist: lognormal, p50, p90}                (not of its log), or its median and 90th
                                             percentile; optional clamps min (default 1) and
                                             max; a draw is max(min, min(max, round(exp(x)))),
                                             x normal
  {dist: empirical, file}                    a CSV relative to the workload file: column
                                             tokens and optional weight (default 1, so a plain
                                             list of observed lengths works); drawn by weight
                     Real chat and reasoning outputs have long tails that uniform lengths miss
                     (workloads/longtail-chat.yaml)

OUTPUT (moesim run --json): metric keys carry their units (ttft_ms, output_tok_s_per_gpu,
cost_usd_per_mtok, joules_per_token, window_s, *_frac for fractions); definitions in
sim/serve/metrics.hpp.
)";
}

}  // namespace moesim::serve
