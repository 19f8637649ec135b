import { describe, expect, it } from 'vitest';
import { PY_TESTS, runPython } from './helpers.ts';

describe('python worker', () => {
  it("checkpoint rotation removes only weft's own checkpoints (an iter_N.pth without weft's .state stays)", () => {
    const left = JSON.parse(runPython([`${PY_TESTS}check_rotation.py`])) as string[];
    expect(left).toEqual(['iter_1.pth', 'iter_3.pth', 'iter_3.state', 'iter_4.pth', 'iter_4.state', 'last_checkpoint']);
  });

  it('shard: auto picks FSDP2 only where PyTorch has it (DDP on 1.13), a clear error otherwise; sharded checkpoints rotate and resume', () => {
    const r = JSON.parse(runPython([`${PY_TESTS}check_shard.py`])) as {
      torch: [number, number];
      fsdp2_available: boolean;
      pick: Record<string, string>;
      left: string[];
      last: string;
      is_sharded: boolean[];
      trainer_state: Record<string, unknown>;
      steps: number[];
      key_map_llama: Record<string, string>;
      key_map_internlm2: null | Record<string, string>;
      clip: { max_norm: string; norm_diff: number; grad_diff: number; scaled: boolean }[];
      local_step_plain: {
        local_steps: number;
        max_diff: number;
        grads_left: boolean[];
        resumed_local_steps: number;
        resumed_max_diff: number;
      };
      local_step_sharded: { local_steps: number[]; max_diff: number; others_untouched: boolean };
      unit_blocks: (number | string)[];
      idle: {
        window_ms: number;
        idle_ms: number;
        gaps: number;
        by_region: Record<string, number>;
        top: [string, number][];
      };
    };
    // FSDP2's AdamW stepped on local shards equals torch's AdamW on whole tensors, bitwise: the first step is
    // torch's own (it creates the state), later ones local, also after a state-dict round trip
    expect(r.local_step_plain).toEqual({
      local_steps: 2,
      max_diff: 0,
      grads_left: [false, false, false],
      resumed_local_steps: 1,
      resumed_max_diff: 0,
    });
    // two emulated ranks with uneven row shards: their rows together equal AdamW on the whole tensors
    expect(r.local_step_sharded).toEqual({ local_steps: [2, 2], max_diff: 0, others_untouched: true });
    expect(r.unit_blocks.slice(0, 4)).toEqual([4, 1, 3, 0]);
    expect(r.unit_blocks[4]).toMatch(/WEFT_FSDP_UNIT_BLOCKS must be >= 0/);
    // the GPU idle-gap report charges each gap to the host work that launched the kernel ending it
    expect(r.idle).toEqual({
      window_ms: 0.19,
      idle_ms: 0.1,
      gaps: 3,
      by_region: { opt: 0.06, fwd: 0.04 },
      top: [
        ['opt |  | aten::_fused_adamw_', 0.06],
        ['fwd | FSDP::pre_forward | aten::mm', 0.03],
        ['fwd |  | ', 0.01],
      ],
    });
    // FSDP2's clipping on local shards against torch.nn.utils.clip_grad_norm_ (one rank: shards = tensors)
    expect(r.clip.map((c) => c.scaled)).toEqual([true, false, false]);
    for (const c of r.clip) {
      expect(c.norm_diff).toBeLessThan(1e-5);
      expect(c.grad_diff).toBeLessThan(1e-6);
    }
    const has = r.torch[0] > 2 || (r.torch[0] === 2 && r.torch[1] >= 4);
    expect(r.fsdp2_available).toBe(has);
    expect(r.pick['auto/1']).toBe('none');
    expect(r.pick['auto/2']).toBe(has ? 'fsdp2' : 'ddp');
    expect(r.pick['ddp/2']).toBe('ddp');
    if (has) expect(r.pick['fsdp2/1']).toBe('fsdp2');
    else expect(r.pick['fsdp2/2']).toMatch(/fsdp2 needs PyTorch >= 2\.4 .*this is 1\.13.*Use shard: ddp/);
    expect(r.pick['none/2']).toMatch(/cannot train on 2 ranks/);
    expect(r.pick['zero3/1']).toMatch(/must be one of auto, fsdp2, ddp, none/);
    expect(r.left).toEqual(['iter_4.dcp', 'iter_4.state', 'iter_6.dcp', 'iter_6.state', 'last_checkpoint']);
    expect(r.last).toBe('iter_6.dcp');
    expect(r.is_sharded).toEqual([true, false]);
    expect(r.trainer_state).toMatchObject({ format: 'dcp', step: 6, has_optimizer: true });
    expect(r.steps).toEqual([4, 6]);
    // llama keys only rename (the converter names shards with this map); internlm2 packs wqkv: no map
    expect(r.key_map_llama).toMatchObject({
      'embed_tokens.weight': 'model.embed_tokens.weight',
      'lm_head.weight': 'lm_head.weight',
      'norm.weight': 'model.norm.weight',
    });
    expect(r.key_map_internlm2).toBeNull();
  });

  it("rows written one step late (the GPU's overlapped steps) equal rows written at once, in the same order around checkpoints, validations and a feed that ends early", () => {
    type Run = {
      code: number;
      stderr: string;
      events: [string, number][];
      numbers: unknown[][];
      late_rows: number | null;
    };
    const r = JSON.parse(runPython([`${PY_TESTS}check_overlap.py`])) as { at_once: Run; late: Run };
    expect(r.at_once.stderr).toBe('');
    expect(r.late.stderr).toBe('');
    const steps = (ns: number[]): [string, number][] => ns.map((n) => ['step', n]);
    expect(r.at_once.events).toEqual([
      ...steps([1, 2, 3]),
      ['valid', 3],
      ...steps([4, 5]),
      ['checkpoint', 5],
      ...steps([6]),
      ['valid', 6],
      ...steps([7, 8]),
      ['end', 8],
    ]);
    expect(r.late.events).toEqual(r.at_once.events);
    expect(r.late.numbers).toEqual(r.at_once.numbers);
    expect(r.at_once.numbers).toHaveLength(8);
    // steps 1, 2, 4 and 7 neither save, validate nor end the run: their rows were written after the next step ran
    expect(r.late.late_rows).toBe(4);
    expect(r.at_once.late_rows).toBeNull();
  });

  it('varlen (block-diagonal) attention equals attention computed per document', () => {
    const r = JSON.parse(runPython([`${PY_TESTS}check_attention.py`, 'math', 'cpu'])) as {
      max_abs_diff: number;
      max_abs_diff_unmasked: number;
    };
    expect(r.max_abs_diff).toBeLessThan(1e-5);
    expect(r.max_abs_diff_unmasked).toBeGreaterThan(0.1); // the reference would catch a missing mask
  });

  it('model: packed forward equals each document alone; HF keys, wqkv layout, safetensors, weights-only refusal', () => {
    const r = JSON.parse(runPython([`${PY_TESTS}check_model.py`])) as {
      packed_vs_alone: number;
      unmasked_vs_alone: number;
      roundtrips: Record<
        string,
        {
          keys_equal: boolean;
          max_diff: number;
          wqkv_matches_reference?: boolean;
          has_qkv_bias?: boolean;
          sample_keys: string[];
        }
      >;
      safetensors_same: boolean;
      safetensors_truncated_error: string;
      weights_only_error: string;
    };
    expect(r.packed_vs_alone).toBeLessThan(1e-4);
    expect(r.unmasked_vs_alone).toBeGreaterThan(0.1);
    for (const mt of ['llama', 'qwen2', 'internlm2']) {
      expect(r.roundtrips[mt]!.keys_equal).toBe(true);
      expect(r.roundtrips[mt]!.max_diff).toBe(0);
    }
    expect(r.roundtrips.internlm2!.wqkv_matches_reference).toBe(true);
    expect(r.roundtrips.internlm2!.sample_keys).toContain('model.layers.0.attention.wqkv.weight');
    expect(r.roundtrips.qwen2!.has_qkv_bias).toBe(true);
    expect(r.safetensors_same).toBe(true);
    expect(r.safetensors_truncated_error).toMatch(/outside the file/);
    expect(r.weights_only_error).toMatch(/weights only\) and cannot be resumed/);
  });
  it('bf16 master weights track an fp32 model; chunked cross-entropy equals F.cross_entropy', () => {
    const r = JSON.parse(runPython([`${PY_TESTS}check_precision.py`])) as {
      chunked_ce: { loss_rel_diff: number; grad_w_max_diff: number };
      master_weights: {
        max_loss_rel_diff: number;
        param_dtype: string;
        inv_freq_dtype: string;
        checkpoint_dtypes: string[];
        tied_keys_present: boolean;
      };
    };
    expect(r.chunked_ce.loss_rel_diff).toBeLessThan(1e-6);
    expect(r.chunked_ce.grad_w_max_diff).toBeLessThan(1e-4);
    expect(r.master_weights.max_loss_rel_diff).toBeLessThan(5e-3);
    expect(r.master_weights.param_dtype).toBe('torch.bfloat16');
    expect(r.master_weights.inv_freq_dtype).toBe('torch.float32');
    expect(r.master_weights.checkpoint_dtypes).toEqual(['torch.float32']);
    expect(r.master_weights.tied_keys_present).toBe(true);
  });

  it('InternLM v1 (q/k/v/o bias, dynamic/origin rotary) and v2 folders load strictly; logits equal an HF-style reference forward', () => {
    type Case = { diff_40: number; diff_100: number; roundtrip_equal: boolean; keys: string[] };
    const r = JSON.parse(runPython([`${PY_TESTS}check_internlm.py`])) as Record<string, Case> & {
      dynamic_vs_origin_100: number;
      inv_freq_dropped: boolean;
      bad_rotary_error: string;
      internlm2_dynamic_vs_none_100: number;
      bad_rope_scaling_error: string;
    };
    for (const k of [
      'internlm',
      'internlm_origin',
      'internlm_nobias',
      'internlm2',
      'internlm2_dynamic',
      'internlm2_linear',
    ]) {
      expect(r[k]!.diff_40).toBeLessThan(1e-5); // below max_position_embeddings (64)
      expect(r[k]!.diff_100).toBeLessThan(1e-5); // past it: v1's dynamic NTK base
      expect(r[k]!.roundtrip_equal).toBe(true);
    }
    expect(r.internlm!.keys).toContain('model.layers.0.self_attn.o_proj.bias');
    expect(r.internlm_nobias!.keys).not.toContain('model.layers.0.self_attn.q_proj.bias');
    expect(r.internlm2!.keys).toContain('model.layers.0.attention.wqkv.weight');
    expect(r.dynamic_vs_origin_100).toBeGreaterThan(1e-3); // the reference tells the two rotary types apart
    expect(r.inv_freq_dropped).toBe(true);
    expect(r.bad_rotary_error).toMatch(/rotary.type 'linear' is not supported/);
    // InternLM2's rope_scaling (dynamic x2 is what internlm-to-hf writes) changes the logits past max_position_embeddings
    expect(r.internlm2_dynamic_vs_none_100).toBeGreaterThan(1e-3);
    expect(r.bad_rope_scaling_error).toMatch(/rope_scaling.type 'yarn' is not supported/);
  });
});
