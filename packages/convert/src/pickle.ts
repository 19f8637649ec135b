import { DataError, type Reason } from '@weft/core';

/** A `module.name` reference from a GLOBAL / STACK_GLOBAL opcode: a name, never imported. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualname(): string {
    return `${this.module}.${this.name}`;
  }
}

/**
 * What a non-allowlisted call would have built: an inert record of the class, its arguments
 * and any state or items the pickle gave it. Nothing is ever called.
 */
export class PyObject {
  state: unknown = undefined;
  readonly items: unknown[] = [];
  readonly dict = new Map<unknown, unknown>();
  constructor(
    readonly cls: PyGlobal | unknown,
    readonly args: unknown,
  ) {}
  get qualname(): string {
    return this.cls instanceof PyGlobal ? this.cls.qualname : '<object>';
  }
}

/** Handlers for the allowlisted callables, by `module.name`. */
export type PickleHandlers = Record<string, (args: unknown[], at: number) => unknown>;

/** Options for {@link unpickle}. */
export interface UnpickleOptions {
  /** The file named in errors. */
  file: string;
  /** Callables that may build values; anything else becomes a {@link PyObject}. */
  handlers?: PickleHandlers;
  /** Resolve a persistent id (torch uses it for storages). */
  persistentLoad?: (pid: unknown, at: number) => unknown;
}

// Containers built from pickle are plain JS: lists and tuples → arrays, dicts → Map (keys may
// be ints or tuples), sets → Set, bytes → Uint8Array, big ints → bigint.
const BASE_HANDLERS: PickleHandlers = {
  'collections.OrderedDict': (a) => new Map(Array.isArray(a[0]) ? (a[0] as [unknown, unknown][]) : []),
  'builtins.set': (a) => new Set(Array.isArray(a[0]) ? a[0] : []),
  'builtins.frozenset': (a) => new Set(Array.isArray(a[0]) ? a[0] : []),
  'builtins.bytearray': (a) =>
    typeof a[0] === 'string' ? Buffer.from(a[0], 'latin1') : a[0] instanceof Uint8Array ? a[0] : new Uint8Array(),
  // Protocol 2 writes bytes as _codecs.encode(text, 'latin1').
  '_codecs.encode': (a) =>
    typeof a[0] === 'string'
      ? new Uint8Array(Buffer.from(a[0], a[1] === 'latin1' || a[1] === 'latin-1' ? 'latin1' : 'utf8'))
      : new Uint8Array(),
};

function ownHandler(h: PickleHandlers, key: string) {
  return Object.hasOwn(h, key) ? h[key] : undefined;
}

/**
 * Unpickle untrusted bytes without executing anything: a pickle VM for protocols 0–5 whose
 * GLOBAL opcode yields a name, whose REDUCE/NEWOBJ/BUILD only ever run the given allowlist and
 * otherwise build inert {@link PyObject}s. Malformed input throws DataError naming the byte.
 *
 * @example
 * const value = unpickle(bytes, { file: 'x.pkl' }); // `os.system(...)` becomes a PyObject, never run
 */
export function unpickle(data: Uint8Array, options: UnpickleOptions): unknown {
  const { file } = options;
  const handlers = { ...BASE_HANDLERS, ...options.handlers };
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let pos = 0;
  let op = 0;
  let opAt = 0;
  const fail = (detail: string, reason: Reason = 'bad-pickle'): never => {
    throw new DataError(
      `pickle: ${detail} (opcode 0x${op.toString(16).padStart(2, '0')})`,
      { file, offset: opAt },
      { reason },
    );
  };
  const need = (n: number) => {
    if (n < 0 || pos + n > buf.length)
      fail(`needs ${n} bytes but the pickle ends at ${buf.length} (truncated?)`, 'truncated');
  };
  const u8 = () => {
    need(1);
    return buf[pos++]!;
  };
  const u16 = () => {
    need(2);
    const v = buf.readUInt16LE(pos);
    pos += 2;
    return v;
  };
  const u32 = () => {
    need(4);
    const v = buf.readUInt32LE(pos);
    pos += 4;
    return v;
  };
  const i32 = () => {
    need(4);
    const v = buf.readInt32LE(pos);
    pos += 4;
    return v;
  };
  const u64 = () => {
    need(8);
    const v = buf.readBigUInt64LE(pos);
    pos += 8;
    if (v > BigInt(buf.length)) fail(`length ${v} exceeds the pickle size`, 'truncated');
    return Number(v);
  };
  const bytes = (n: number) => {
    need(n);
    const b = buf.subarray(pos, pos + n);
    pos += n;
    return b;
  };
  const line = () => {
    const end = buf.indexOf(0x0a, pos);
    if (end < 0) fail('unterminated text line', 'truncated');
    const s = buf.toString('latin1', pos, end);
    pos = end + 1;
    return s;
  };
  const pop = () => {
    if (stack.length <= (marks.length ? marks[marks.length - 1]! : 0)) fail('stack underflow');
    return stack.pop();
  };
  const top = () => {
    if (stack.length === 0) fail('stack underflow');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    if (marks.length === 0) fail('no MARK on the stack');
    const m = marks.pop()!;
    return stack.splice(m);
  };
  const intFromLE = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    let v = BigInt(`0x${Buffer.from(b).reverse().toString('hex')}`);
    if (b[b.length - 1]! & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const parseIntText = (s: string): number | bigint => {
    const t = s.endsWith('L') ? s.slice(0, -1) : s;
    if (!/^[+-]?\d+$/.test(t) || t.length > 4300) fail(`bad integer text ${JSON.stringify(s.slice(0, 40))}`);
    const v = BigInt(t);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const call = (callable: unknown, args: unknown): unknown => {
    if (callable instanceof PyGlobal) {
      // protocols ≤ 2 name builtins by their Python 2 module, __builtin__
      const h = ownHandler(
        handlers,
        callable.module === '__builtin__' ? `builtins.${callable.name}` : callable.qualname,
      );
      if (h) {
        try {
          return h(Array.isArray(args) ? args : [], opAt);
        } catch (e) {
          if (e instanceof DataError) throw e;
          fail(`${callable.qualname}: ${(e as Error).message}`);
        }
      }
    }
    return new PyObject(callable, args);
  };
  const setItems = (target: unknown, kv: unknown[]) => {
    if (kv.length % 2) fail('odd number of items for SETITEMS');
    const m =
      target instanceof Map
        ? target
        : target instanceof PyObject
          ? target.dict
          : fail('SETITEM on something that is not a dict');
    for (let i = 0; i < kv.length; i += 2) m.set(kv[i], kv[i + 1]);
  };
  const append = (target: unknown, items: unknown[]) => {
    if (Array.isArray(target)) {
      for (const x of items) target.push(x);
    } else if (target instanceof Set) {
      for (const x of items) target.add(x);
    } else if (target instanceof PyObject) target.items.push(...items);
    else fail('APPEND on something that is not a list');
  };
  const textLiteral = (s: string): string => {
    // STRING opcode: a Python repr in quotes; decode the common escapes.
    const q = s[0];
    if (s.length < 2 || (q !== "'" && q !== '"') || s[s.length - 1] !== q) fail('bad STRING literal');
    return s
      .slice(1, -1)
      .replace(/\\(x[0-9a-fA-F]{2}|[\\'"nrt0])/g, (_, e: string) =>
        e[0] === 'x'
          ? String.fromCharCode(parseInt(e.slice(1), 16))
          : (({ n: '\n', r: '\r', t: '\t', '0': '\0' } as Record<string, string>)[e] ?? e),
      );
  };

  for (;;) {
    opAt = pos;
    if (pos >= buf.length) {
      op = 0;
      fail('pickle ends without STOP', 'truncated');
    }
    op = buf[pos++]!;
    switch (op) {
      case 0x80:
        u8();
        break; // PROTO
      case 0x95:
        u64();
        break; // FRAME: framing is only a read-ahead hint
      case 0x2e: {
        // STOP
        if (stack.length !== 1 || marks.length) fail(`STOP with ${stack.length} values on the stack`);
        return stack[0];
      }
      case 0x28:
        marks.push(stack.length);
        break; // MARK
      case 0x30:
        pop();
        break; // POP
      case 0x31:
        popMark();
        break; // POP_MARK
      case 0x32:
        stack.push(top());
        break; // DUP
      case 0x4e:
        stack.push(null);
        break; // NONE
      case 0x88:
        stack.push(true);
        break; // NEWTRUE
      case 0x89:
        stack.push(false);
        break; // NEWFALSE
      case 0x49: {
        // INT
        const s = line();
        stack.push(s === '01' ? true : s === '00' ? false : parseIntText(s));
        break;
      }
      case 0x4a:
        stack.push(i32());
        break; // BININT
      case 0x4b:
        stack.push(u8());
        break; // BININT1
      case 0x4d:
        stack.push(u16());
        break; // BININT2
      case 0x4c:
        stack.push(parseIntText(line()));
        break; // LONG
      case 0x8a:
        stack.push(intFromLE(bytes(u8())));
        break; // LONG1
      case 0x8b: {
        const n = i32();
        if (n < 0) fail('negative LONG4 length');
        stack.push(intFromLE(bytes(n)));
        break;
      }
      case 0x46: {
        const v = Number(line());
        stack.push(v);
        break;
      } // FLOAT
      case 0x47: {
        need(8);
        stack.push(buf.readDoubleBE(pos));
        pos += 8;
        break;
      } // BINFLOAT
      case 0x53:
        stack.push(textLiteral(line()));
        break; // STRING
      case 0x54: {
        const n = i32();
        if (n < 0) fail('negative BINSTRING length');
        stack.push(bytes(n).toString('latin1'));
        break;
      }
      case 0x55:
        stack.push(bytes(u8()).toString('latin1'));
        break; // SHORT_BINSTRING
      case 0x56:
        stack.push(line().replace(/\\u([0-9a-fA-F]{4})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))));
        break; // UNICODE
      case 0x58:
        stack.push(bytes(u32()).toString('utf8'));
        break; // BINUNICODE
      case 0x8c:
        stack.push(bytes(u8()).toString('utf8'));
        break; // SHORT_BINUNICODE
      case 0x8d:
        stack.push(bytes(u64()).toString('utf8'));
        break; // BINUNICODE8
      case 0x42:
        stack.push(new Uint8Array(bytes(u32())));
        break; // BINBYTES
      case 0x43:
        stack.push(new Uint8Array(bytes(u8())));
        break; // SHORT_BINBYTES
      case 0x8e:
      case 0x96:
        stack.push(new Uint8Array(bytes(u64())));
        break; // BINBYTES8, BYTEARRAY8
      case 0x5d:
        stack.push([]);
        break; // EMPTY_LIST
      case 0x29:
        stack.push([]);
        break; // EMPTY_TUPLE
      case 0x7d:
        stack.push(new Map());
        break; // EMPTY_DICT
      case 0x8f:
        stack.push(new Set());
        break; // EMPTY_SET
      case 0x6c:
      case 0x74:
        stack.push(popMark());
        break; // LIST, TUPLE
      case 0x85: {
        const a = pop();
        stack.push([a]);
        break;
      } // TUPLE1
      case 0x86: {
        const b = pop(),
          a = pop();
        stack.push([a, b]);
        break;
      } // TUPLE2
      case 0x87: {
        const c = pop(),
          b = pop(),
          a = pop();
        stack.push([a, b, c]);
        break;
      } // TUPLE3
      case 0x91:
        stack.push(new Set(popMark()));
        break; // FROZENSET
      case 0x64: {
        const m = new Map();
        setItems(m, popMark());
        stack.push(m);
        break;
      } // DICT
      case 0x61: {
        const v = pop();
        append(top(), [v]);
        break;
      } // APPEND
      case 0x65:
      case 0x90: {
        const items = popMark();
        append(top(), items);
        break;
      } // APPENDS, ADDITEMS
      case 0x73: {
        const v = pop(),
          k = pop();
        setItems(top(), [k, v]);
        break;
      } // SETITEM
      case 0x75: {
        const kv = popMark();
        setItems(top(), kv);
        break;
      } // SETITEMS
      case 0x70: {
        const i = parseIntText(line());
        memo.set(Number(i), top());
        break;
      } // PUT
      case 0x71:
        memo.set(u8(), top());
        break; // BINPUT
      case 0x72:
        memo.set(u32(), top());
        break; // LONG_BINPUT
      case 0x94:
        memo.set(memo.size, top());
        break; // MEMOIZE
      case 0x67:
      case 0x68:
      case 0x6a: {
        // GET, BINGET, LONG_BINGET
        const i = op === 0x67 ? Number(parseIntText(line())) : op === 0x68 ? u8() : u32();
        if (!memo.has(i)) fail(`memo key ${i} was never stored`);
        stack.push(memo.get(i));
        break;
      }
      case 0x63: {
        const mod = line(),
          name = line();
        stack.push(new PyGlobal(mod, name));
        break;
      } // GLOBAL
      case 0x93: {
        // STACK_GLOBAL
        const name = pop(),
          mod = pop();
        if (typeof mod !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(new PyGlobal(mod as string, name as string));
        break;
      }
      case 0x52: {
        const args = pop(),
          fn = pop();
        stack.push(call(fn, args));
        break;
      } // REDUCE
      case 0x81: {
        const args = pop(),
          cls = pop();
        stack.push(call(cls, args));
        break;
      } // NEWOBJ
      case 0x92: {
        pop();
        const args = pop(),
          cls = pop();
        stack.push(call(cls, args));
        break;
      } // NEWOBJ_EX (kwargs dropped)
      case 0x69: {
        const mod = line(),
          name = line();
        stack.push(call(new PyGlobal(mod, name), popMark()));
        break;
      } // INST
      case 0x6f: {
        const items = popMark();
        if (!items.length) fail('OBJ without a class');
        stack.push(call(items[0], items.slice(1)));
        break;
      } // OBJ
      case 0x62: {
        // BUILD: record the state; never __setstate__
        const state = pop();
        const obj = top();
        if (obj instanceof PyObject) obj.state = state;
        break;
      }
      case 0x50: {
        // PERSID
        const pid = line();
        stack.push(options.persistentLoad ? options.persistentLoad(pid, opAt) : fail('persistent id without a loader'));
        break;
      }
      case 0x51: {
        // BINPERSID
        const pid = pop();
        stack.push(options.persistentLoad ? options.persistentLoad(pid, opAt) : fail('persistent id without a loader'));
        break;
      }
      case 0x82:
      case 0x83:
      case 0x84:
        fail('extension registry opcodes (EXT1/2/4) are not supported', 'unsupported');
      // eslint-disable-next-line no-fallthrough
      case 0x97:
      case 0x98:
        fail('out-of-band buffers (protocol 5) are not supported', 'unsupported');
      // eslint-disable-next-line no-fallthrough
      default:
        fail(`unknown opcode 0x${op.toString(16)}`);
    }
    if (stack.length > 1e7 || memo.size > 1e7) fail('pickle builds more than 10 million values; refusing');
  }
}
