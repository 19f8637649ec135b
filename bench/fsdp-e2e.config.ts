// `weft train` end to end with FSDP2 on CPU ranks (bench/fsdp-device.sh e2e): the tiny CPU demo,
// 8 steps, a sharded checkpoint every 4. WEFT_ACCUM keeps the global batch equal across rank
// counts (2 ranks x 2 = 1 rank x 4); WEFT_WORK is the work dir.
import type { TrainConfig } from '@weft/trainer';
import demo from '../packages/trainer/src/configs/tiny_cpu_demo.ts';

export default {
  ...demo,
  accumulativeCounts: Number(process.env.WEFT_ACCUM ?? 2),
  totalSteps: 8,
  checkpointEvery: 4,
  maxKeepCkpts: 0,
  workDir: process.env.WEFT_WORK ?? '/tmp/weft-fsdp-e2e',
  shard: 'fsdp2',
} satisfies TrainConfig;
