/**
 * The JSON files of a HF `datasets` folder (formats.md), written the way `save_to_disk` writes
 * them so that `load_from_disk` opens the folder without a cast.
 */

/** The `features` entry of a list-of-int32 column: `Sequence(Value("int32"))` (or `"int64"`). */
export function int32SequenceFeature(dtype: 'int32' | 'int64' = 'int32'): Record<string, unknown> {
  return { feature: { dtype, _type: 'Value' }, _type: 'Sequence' };
}

/** `columns` as features: list of int32, or of int64 for the columns named in `int64`. */
export function featuresOf(columns: readonly string[], int64: readonly string[] = []): Record<string, unknown> {
  return Object.fromEntries(columns.map((c) => [c, int32SequenceFeature(int64.includes(c) ? 'int64' : 'int32')]));
}

/**
 * The columns of a samples split (`weft process`'s `samples/K`) and their types as xtuner's saved
 * samples have them: `datasets` stores `input_ids` as int32 (its OptimizedTypedSequence narrows
 * that column by name) and `labels` as int64 (Python ints). Packed folders stay all int32.
 */
export const SAMPLE_COLUMNS = ['input_ids', 'labels'] as const;
export const SAMPLE_INT64_COLUMNS = ['labels'] as const;

/** Python's `json.dumps` with default separators (", ", ": "), ASCII only — for the schema metadata. */
export function pythonJsonDumps(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `[${v.map(pythonJsonDumps).join(', ')}]`;
  if (typeof v === 'object')
    return `{${Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `${asciiJson(k)}: ${pythonJsonDumps(x)}`)
      .join(', ')}}`;
  if (typeof v === 'string') return asciiJson(v);
  return JSON.stringify(v);
}

/** JSON string with non-ASCII escaped as Python's ensure_ascii does. */
function asciiJson(s: string): string {
  return JSON.stringify(s).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Arrow schema metadata value under key `huggingface`. */
export function huggingfaceSchemaMetadata(columns: readonly string[], int64: readonly string[] = []): string {
  return pythonJsonDumps({ info: { features: featuresOf(columns, int64) } });
}

/** `dataset_info.json`: the full DatasetInfo field set, top-level keys sorted, indent 2. */
export function datasetInfoJson(columns: readonly string[], int64: readonly string[] = []): string {
  const info: Record<string, unknown> = {
    builder_name: null,
    citation: '',
    config_name: null,
    dataset_name: null,
    dataset_size: null,
    description: '',
    download_checksums: null,
    download_size: null,
    features: featuresOf(columns, int64),
    homepage: '',
    license: '',
    post_processed: null,
    post_processing_size: null,
    size_in_bytes: null,
    splits: null,
    supervised_keys: null,
    version: null,
  };
  return JSON.stringify(info, null, 2);
}

/** `state.json`: keys sorted, indent 2, exactly the fields `save_to_disk` writes. */
export function stateJson(files: readonly string[], fingerprint: string): string {
  return JSON.stringify(
    {
      _data_files: files.map((filename) => ({ filename })),
      _fingerprint: fingerprint,
      _format_columns: null,
      _format_kwargs: {},
      _format_type: null,
      _output_all_columns: false,
      _split: null,
    },
    null,
    2,
  );
}

/** `dataset_dict.json` as `DatasetDict.save_to_disk` writes it (`json.dump`, no indent). */
export function datasetDictJson(splits: readonly string[]): string {
  return pythonJsonDumps({ splits: [...splits] });
}

/** `data-0000K-of-0000N.arrow`. */
export function shardName(k: number, n: number): string {
  return `data-${String(k).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.arrow`;
}
