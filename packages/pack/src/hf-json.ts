/**
 * The JSON files of a HF `datasets` folder (formats.md), written the way `save_to_disk` writes
 * them so that `load_from_disk` opens the folder without a cast.
 */

/** The `features` entry of a list-of-int32 column: `Sequence(Value("int32"))`. */
export function int32SequenceFeature(): Record<string, unknown> {
  return { feature: { dtype: 'int32', _type: 'Value' }, _type: 'Sequence' };
}

export function featuresOf(columns: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(columns.map((c) => [c, int32SequenceFeature()]));
}

/** Python's `json.dumps` with default separators (", ", ": "), ASCII only — for the schema metadata. */
export function pythonJsonDumps(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `[${v.map(pythonJsonDumps).join(', ')}]`;
  if (typeof v === 'object') return `{${Object.entries(v as Record<string, unknown>).map(([k, x]) => `${asciiJson(k)}: ${pythonJsonDumps(x)}`).join(', ')}}`;
  if (typeof v === 'string') return asciiJson(v);
  return JSON.stringify(v);
}

/** JSON string with non-ASCII escaped as Python's ensure_ascii does. */
function asciiJson(s: string): string {
  return JSON.stringify(s).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Arrow schema metadata value under key `huggingface`. */
export function huggingfaceSchemaMetadata(columns: readonly string[]): string {
  return pythonJsonDumps({ info: { features: featuresOf(columns) } });
}

/** `dataset_info.json`: the full DatasetInfo field set, top-level keys sorted, indent 2. */
export function datasetInfoJson(columns: readonly string[]): string {
  const info: Record<string, unknown> = {
    builder_name: null,
    citation: '',
    config_name: null,
    dataset_name: null,
    dataset_size: null,
    description: '',
    download_checksums: null,
    download_size: null,
    features: featuresOf(columns),
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
  return JSON.stringify({
    _data_files: files.map((filename) => ({ filename })),
    _fingerprint: fingerprint,
    _format_columns: null,
    _format_kwargs: {},
    _format_type: null,
    _output_all_columns: false,
    _split: null,
  }, null, 2);
}

/** `dataset_dict.json` as `DatasetDict.save_to_disk` writes it (`json.dump`, no indent). */
export function datasetDictJson(splits: readonly string[]): string {
  return pythonJsonDumps({ splits: [...splits] });
}

/** `data-0000K-of-0000N.arrow`. */
export function shardName(k: number, n: number): string {
  return `data-${String(k).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.arrow`;
}
