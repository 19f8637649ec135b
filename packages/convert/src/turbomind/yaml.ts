/**
 * The subset of PyYAML's `yaml.safe_dump` that Turbomind's config.yaml needs, byte for byte:
 * nested mappings with sorted keys, block lists, ints, Python floats, bools, null, strings.
 */

/** A number that Python holds as a float (`10000.0`, not `10000`). */
export class PyFloat {
  constructor(readonly value: number) {}
}

/** Mark `x` as a Python float for {@link safeDump}. */
export function pyFloat(x: number): PyFloat {
  return new PyFloat(x);
}

export type YamlValue = null | boolean | number | string | PyFloat | YamlValue[] | { [k: string]: YamlValue };

/**
 * Python's `repr(float)`: shortest round-trip digits, fixed notation for exponents -4..15,
 * scientific (`1e-06`, `1.5e+16`) outside.
 */
export function pythonFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mant, expS] = Math.abs(x).toExponential().split('e') as [string, string];
  const exp = Number(expS);
  const digits = mant.replace('.', '');
  const sign = x < 0 ? '-' : '';
  if (exp >= -4 && exp < 16) {
    if (exp >= 0) {
      const int = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
      const frac = digits.slice(exp + 1) || '0';
      return `${sign}${int}.${frac}`;
    }
    return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  }
  const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const e = `${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return `${sign}${m}e${e}`;
}

/** PyYAML's float representer on top of repr: lower case, `.0` forced before an exponent. */
function yamlFloat(x: number): string {
  if (Number.isNaN(x)) return '.nan';
  if (!Number.isFinite(x)) return x > 0 ? '.inf' : '-.inf';
  const r = pythonFloatRepr(x).toLowerCase();
  return !r.includes('.') && r.includes('e') ? r.replace('e', '.0e') : r;
}

// YAML 1.1 implicit types as PyYAML resolves them: a string matching one must be quoted.
const IMPLICIT = [
  /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/,
  /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/,
  /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/,
  /^(?:<<)$/,
  /^(?:~|null|Null|NULL|)$/,
  /^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$/,
  /^(?:=)$/,
];

/** Whether PyYAML's emitter may write `s` plain as a block-mapping value (its analyze_scalar, for printable ASCII). */
function plainOk(s: string): boolean {
  if (s === '' || s.startsWith('---') || s.startsWith('...')) return false;
  if (s[0] === ' ' || s[s.length - 1] === ' ') return false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    const followedByWs = i + 1 >= s.length || s[i + 1] === ' ';
    if (i === 0) {
      if ('#,[]{}&*!|>\'"%@`'.includes(c)) return false;
      if ((c === '?' || c === ':' || c === '-') && followedByWs) return false;
    } else {
      if (c === ':' && followedByWs) return false;
      if (c === '#' && s[i - 1] === ' ') return false;
    }
  }
  return true;
}

function yamlString(s: string): string {
  if (!/^[\x20-\x7e]*$/.test(s))
    throw new Error(`${JSON.stringify(s)}: only printable ASCII strings are supported in config.yaml`);
  if (plainOk(s) && !IMPLICIT.some((re) => re.test(s))) return s;
  return `'${s.replaceAll("'", "''")}'`;
}

function scalar(v: YamlValue): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new Error(`${v}: ints must be safe integers (mark floats with pyFloat)`);
    return String(v);
  }
  if (typeof v === 'string') return yamlString(v);
  if (v instanceof PyFloat) return yamlFloat(v.value);
  throw new Error('not a scalar');
}

function isMapping(v: YamlValue): v is { [k: string]: YamlValue } {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof PyFloat);
}

function emit(v: { [k: string]: YamlValue }, indent: string, out: string[]): void {
  // safe_dump sorts keys (Python string order; our keys are ASCII identifiers)
  for (const k of Object.keys(v).sort()) {
    const x = v[k]!;
    if (isMapping(x) && Object.keys(x).length > 0) {
      out.push(`${indent}${k}:`);
      emit(x, `${indent}  `, out);
    } else if (isMapping(x)) out.push(`${indent}${k}: {}`);
    else if (Array.isArray(x)) {
      if (x.length === 0) out.push(`${indent}${k}: []`);
      else {
        out.push(`${indent}${k}:`);
        for (const item of x) out.push(`${indent}- ${scalar(item)}`); // PyYAML does not indent a list under its key
      }
    } else out.push(`${indent}${k}: ${scalar(x)}`);
  }
}

/**
 * `yaml.safe_dump(obj)` for a mapping of scalars, lists of scalars and nested mappings.
 *
 * @example
 * safeDump({ model_config: { norm_eps: pyFloat(1e-6), inter_size: [128, 128] } });
 * // 'model_config:\n  inter_size:\n  - 128\n  - 128\n  norm_eps: 1.0e-06\n'
 */
export function safeDump(obj: { [k: string]: YamlValue }): string {
  const out: string[] = [];
  emit(obj, '', out);
  return `${out.join('\n')}\n`;
}
