import { pyFloat, type YamlValue } from './yaml.ts';

/**
 * `attention_config.rope_param` of config.yaml, from config.json's `rope_theta` and
 * `rope_scaling`, the way lmdeploy v0.9.2 reads llama-family configs (its `LlamaModel.model_info`).
 * Float fields are written as floats, as lmdeploy's pydantic dataclass stores them.
 * Throws a message for scaling types lmdeploy does not know (or that weft does not write: mrope).
 *
 * @example
 * ropeParam({ rope_theta: 500000, rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 } }, 128, 131072);
 */
export function ropeParam(
  cfg: Record<string, unknown>,
  headDim: number,
  maxPositionEmbeddings: number,
): { [k: string]: YamlValue } {
  const theta = cfg['rope_theta'] ?? 10000;
  if (typeof theta !== 'number') throw new Error('config.json: "rope_theta" must be a number');
  const p: { [k: string]: YamlValue } = {
    type: 'default',
    base: pyFloat(theta),
    dim: headDim,
    factor: pyFloat(1),
    max_position_embeddings: null,
    attention_factor: pyFloat(1),
    beta_fast: 32,
    beta_slow: 1,
    low_freq_factor: null,
    high_freq_factor: null,
    original_max_position_embeddings: null,
    mrope_section: null,
  };
  const rs = cfg['rope_scaling'];
  if (rs === undefined || rs === null) return p;
  if (typeof rs !== 'object' || Array.isArray(rs))
    throw new Error(`config.json: rope_scaling must be an object, got ${JSON.stringify(rs)}`);
  const s = rs as Record<string, unknown>;
  const num = (k: string, d: number): number => {
    const v = s[k] ?? d;
    if (typeof v !== 'number')
      throw new Error(`config.json: rope_scaling.${k} must be a number, got ${JSON.stringify(v)}`);
    return v;
  };
  const v1 = typeof s['type'] === 'string' ? s['type'] : '';
  const v3 = typeof s['rope_type'] === 'string' ? s['rope_type'] : '';
  if (v1 && v3 && v1 !== v3) throw new Error(`config.json: ambiguous rope_scaling (type ${v1}, rope_type ${v3})`);
  const kind = s['mrope_section'] !== undefined && s['mrope_section'] !== null ? 'mrope' : v1 || v3;
  const factor = num('factor', 0);
  switch (kind) {
    case 'default':
      return p;
    case 'dynamic':
      return { ...p, type: 'dynamic', factor: pyFloat(factor), max_position_embeddings: maxPositionEmbeddings };
    case 'linear':
      return { ...p, type: 'linear', factor: pyFloat(factor) };
    case 'llama3':
      return {
        ...p,
        type: 'llama3',
        factor: pyFloat(factor),
        low_freq_factor: pyFloat(num('low_freq_factor', 1)),
        high_freq_factor: pyFloat(num('high_freq_factor', 1)),
        original_max_position_embeddings: Math.trunc(num('original_max_position_embeddings', 0)),
      };
    case 'yarn': {
      const attention =
        s['attention_factor'] === undefined || s['attention_factor'] === null
          ? 0.1 * Math.log(factor) + 1
          : num('attention_factor', 1);
      const hasOrig = 'original_max_position_embeddings' in s;
      const orig = hasOrig ? Math.trunc(num('original_max_position_embeddings', 0)) : maxPositionEmbeddings;
      return {
        ...p,
        type: 'yarn',
        factor: pyFloat(hasOrig ? maxPositionEmbeddings / orig : factor),
        max_position_embeddings: orig,
        attention_factor: pyFloat(attention),
        beta_fast: pyFloat(num('beta_fast', 32)),
        beta_slow: pyFloat(num('beta_slow', 1)),
      };
    }
    default:
      throw new Error(
        `rope_scaling type ${JSON.stringify(kind)} is not supported (lmdeploy v0.9.2 converts default, dynamic, linear, llama3, yarn)`,
      );
  }
}
