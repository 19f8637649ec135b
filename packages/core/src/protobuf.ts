/**
 * The one protobuf walker (sentencepiece `tokenizer.model` files are protobuf `ModelProto`s; the
 * tokenizer loader and the Turbomind tokenizer-size reader both read them). It walks one message's
 * fields without a schema; the caller picks the fields it knows and walks nested messages again.
 * Malformed input ends in `fail(detail, offset)`, which must throw (the caller names the file).
 *
 * @example
 * walkProtobuf(bytes, 0, bytes.length, (num, wire, value, body, at) => {
 *   if (num === 1 && wire === 2) walkProtobuf(bytes, at, at + body!.length, onPiece, fail); // a nested message
 * }, (detail, offset) => { throw new DataError(detail, { file, offset }, { reason: 'corrupt-model' }); });
 */

/**
 * One field: its number, wire type (0 varint, 1 fixed64, 2 length-delimited, 5 fixed32), the value
 * of a varint (its low 32 bits as an int32, which enums, ids, bools and int32 -1 need) or the byte
 * length of a length-delimited field, its bytes (wire 2 only), and `at`: the offset of those bytes
 * for wire 2, of the field's key otherwise.
 */
export type ProtoFieldHandler = (
  num: number,
  wire: number,
  value: number,
  body: Uint8Array | undefined,
  at: number,
) => void;

export function walkProtobuf(
  bytes: Uint8Array,
  start: number,
  end: number,
  field: ProtoFieldHandler,
  fail: (detail: string, offset: number) => never,
): void {
  let p = start;
  const varint = (): number => {
    let lo = 0;
    for (let i = 0; ; i++) {
      if (p >= end) return fail('a number runs past the end of its message', p);
      const b = bytes[p++]!;
      if (i < 5) lo |= (b & 0x7f) << (7 * i);
      if ((b & 0x80) === 0) return lo;
      if (i >= 9) return fail('a number is longer than 10 bytes', p);
    }
  };
  while (p < end) {
    const at = p;
    const key = varint() >>> 0;
    const num = key >>> 3;
    const wire = key & 7;
    if (num === 0) fail('field number 0', at);
    if (wire === 0) field(num, wire, varint(), undefined, at);
    else if (wire === 2) {
      const len = varint();
      if (len < 0 || p + len > end) fail(`a ${len}-byte field runs past the end (${end - p} bytes left)`, at);
      field(num, wire, len, bytes.subarray(p, p + len), p);
      p += len;
    } else if (wire === 5) {
      if (p + 4 > end) fail('a 4-byte field runs past the end', at);
      p += 4;
    } else if (wire === 1) {
      if (p + 8 > end) fail('an 8-byte field runs past the end', at);
      p += 8;
    } else fail(`unknown wire type ${wire}`, at);
  }
}
