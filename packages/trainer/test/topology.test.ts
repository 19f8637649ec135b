import { describe, expect, it } from 'vitest';
import { firstSlurmHost, topologyFromEnv } from '../src/topology.ts';

describe('launch topology', () => {
  it('single node: --nproc-per-node, free port picked later', () => {
    expect(topologyFromEnv({}, 2)).toEqual({
      nnodes: 1,
      nodeRank: 0,
      nprocPerNode: 2,
      worldSize: 2,
      masterAddr: '127.0.0.1',
      masterPort: undefined,
    });
  });

  it('torchrun-style variables', () => {
    const t = topologyFromEnv({
      MASTER_ADDR: '10.0.0.1',
      MASTER_PORT: '29400',
      NNODES: '2',
      NODE_RANK: '1',
      NPROC_PER_NODE: '8',
      WORLD_SIZE: '16',
    });
    expect(t).toEqual({
      nnodes: 2,
      nodeRank: 1,
      nprocPerNode: 8,
      worldSize: 16,
      masterAddr: '10.0.0.1',
      masterPort: 29400,
    });
  });

  it('Slurm: nodes, node id and master from the node list', () => {
    const t = topologyFromEnv(
      { SLURM_JOB_ID: '7', SLURM_NNODES: '4', SLURM_NODEID: '3', SLURM_JOB_NODELIST: 'gpu[03-06]' },
      8,
    );
    expect(t).toMatchObject({ nnodes: 4, nodeRank: 3, worldSize: 32, masterAddr: 'gpu03', masterPort: 29500 });
    expect(firstSlurmHost('node7,node9')).toBe('node7');
    expect(firstSlurmHost('a[1,4-5]')).toBe('a1');
  });

  it('says what is wrong with an inconsistent environment', () => {
    expect(() => topologyFromEnv({ NNODES: '2', NODE_RANK: '0' }, 1)).toThrow(/needs MASTER_ADDR/);
    expect(() => topologyFromEnv({ NNODES: '2', NODE_RANK: '2', MASTER_ADDR: 'x' }, 1)).toThrow(
      /NODE_RANK 2 is out of range/,
    );
    expect(() => topologyFromEnv({ WORLD_SIZE: '3' }, 2)).toThrow(/WORLD_SIZE=3/);
  });
});
