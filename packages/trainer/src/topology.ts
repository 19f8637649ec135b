/** Where this process sits in a (possibly multi-node) run. */
export interface Topology {
  nnodes: number;
  nodeRank: number;
  nprocPerNode: number;
  worldSize: number;
  masterAddr: string;
  /** undefined: single node, pick a free port. */
  masterPort?: number;
}

/** First host of a Slurm node list: "gpu[03-05,09],cpu1" -> "gpu03". */
export function firstSlurmHost(list: string): string {
  const m = /^([^,[]+)(?:\[([^\],-]+))?/.exec(list.trim());
  if (!m) throw new Error(`cannot read SLURM_JOB_NODELIST ${JSON.stringify(list)}: set MASTER_ADDR`);
  return m[1]! + (m[2] ?? '');
}

/**
 * Read the launch environment: torchrun-style (`MASTER_ADDR`, `MASTER_PORT`, `NNODES`,
 * `NODE_RANK`, `NPROC_PER_NODE`, `WORLD_SIZE`) or Slurm (`SLURM_NNODES`, `SLURM_NODEID`,
 * `SLURM_JOB_NODELIST`), one `weft train` per node starting `nprocPerNode` local ranks.
 *
 * @example
 * const t = topologyFromEnv(process.env, 2); // { nnodes: 1, nodeRank: 0, nprocPerNode: 2, worldSize: 2, ... }
 */
export function topologyFromEnv(env: NodeJS.ProcessEnv, nprocFlag?: number, defaultNproc = 1): Topology {
  const int = (name: string, v: string | undefined): number | undefined => {
    if (v === undefined || v === '') return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${name}=${v} is not a non-negative integer`);
    return n;
  };
  const slurm = env.SLURM_JOB_ID !== undefined && env.SLURM_NNODES !== undefined;
  const nnodes = int('NNODES', env.NNODES) ?? (slurm ? int('SLURM_NNODES', env.SLURM_NNODES) : undefined) ?? 1;
  const nodeRank = int('NODE_RANK', env.NODE_RANK) ?? (slurm ? int('SLURM_NODEID', env.SLURM_NODEID) : undefined) ?? 0;
  let nproc = nprocFlag ?? int('NPROC_PER_NODE', env.NPROC_PER_NODE);
  const world = int('WORLD_SIZE', env.WORLD_SIZE);
  if (nproc === undefined)
    nproc = world !== undefined && nnodes > 0 && world % nnodes === 0 ? world / nnodes : defaultNproc;
  if (nproc < 1) throw new Error('--nproc-per-node must be at least 1');
  if (nodeRank >= nnodes) throw new Error(`NODE_RANK ${nodeRank} is out of range for ${nnodes} nodes`);
  if (world !== undefined && world !== nnodes * nproc) {
    throw new Error(
      `WORLD_SIZE=${world} but ${nnodes} node(s) x ${nproc} rank(s) per node = ${nnodes * nproc}: set NPROC_PER_NODE or --nproc-per-node to match`,
    );
  }
  let masterAddr = env.MASTER_ADDR;
  if (!masterAddr && slurm && env.SLURM_JOB_NODELIST) masterAddr = firstSlurmHost(env.SLURM_JOB_NODELIST);
  if (!masterAddr) {
    if (nnodes > 1) throw new Error("a multi-node run needs MASTER_ADDR (or Slurm's SLURM_JOB_NODELIST)");
    masterAddr = '127.0.0.1';
  }
  const port = int('MASTER_PORT', env.MASTER_PORT) ?? (nnodes > 1 ? 29500 : undefined);
  return { nnodes, nodeRank, nprocPerNode: nproc, worldSize: nnodes * nproc, masterAddr, masterPort: port };
}
