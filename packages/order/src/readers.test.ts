import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect } from '@weft/core';
import { readFtdp } from './ftdp.ts';
import { readJsonArray } from './json-array.ts';
import { readJsonl } from './jsonl.ts';
import { readText } from './text.ts';
import { python } from '../test/python.ts';
import { tempDir } from '../../../tools/test/temp-dir.ts';
import { balanced, failure, fileWriter } from '../test/reader-helpers.ts';

const dir = tempDir('weft-readers-');
const file = fileWriter(dir);

describe('readJsonl', () => {
  it('reads what Python json reads, with line provenance', async () => {
    const p = file(
      'ok.jsonl',
      '{"text": "hello"}\n{"text": "中文", "n": [1, 2.5, null]}\r\n\n"just a string"\n{"a": {"b": true}}',
    );
    const expected = JSON.parse(
      python(
        'import json,sys\nsys.stdout.write(json.dumps([json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]))',
        [p],
      ).toString(),
    ) as unknown[];
    const src = readJsonl(p);
    const recs = await collect(src);
    expect(recs.map((r) => r.value)).toEqual(expected);
    expect(recs.map((r) => r.source.line)).toEqual([1, 2, 4, 5]);
    expect(recs[1]!.source).toEqual({ file: p, line: 2, offset: 18 });
    expect(src.stats.toJSON()).toEqual({ name: 'read-jsonl', seen: 5, emitted: 4, rejected: { empty: 1 } });
  });

  it('a malformed line and a non-UTF-8 line: DataError, or skipped and counted', async () => {
    const p = file(
      'bad.jsonl',
      Buffer.concat([
        Buffer.from('{"text": "a"}\n{"text": "b",,}\n'),
        Buffer.from([0x7b, 0x22, 0x74, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d, 0x0a]), // {"t":"\xc3("}
        Buffer.from('{"text": "d"}\n'),
      ]),
    );
    const e1 = await failure(collect(readJsonl(p)));
    expect(e1.message).toMatch(/bad\.jsonl: line 2 \(byte 14\): malformed JSON/);
    const src = readJsonl([p], { onError: 'skip' });
    expect((await collect(src)).map((r) => (r.value as { text: string }).text)).toEqual(['a', 'd']);
    expect(src.stats.toJSON().rejected).toEqual({ 'malformed-json': 1, 'non-utf8': 1 });
    balanced(src.stats);
    const good = file('good.jsonl', '{"x": 1}\n');
    const cut = file('cut.jsonl', Buffer.concat([Buffer.from('{"x": 2}\n'), Buffer.from([0xff, 0x0a])]));
    const e2 = await failure(collect(readJsonl([good, cut])));
    expect(e2.message).toMatch(/cut\.jsonl: line 2 \(byte 9\): line is not valid UTF-8/);
  });

  it('a missing file is a DataError, or one counted rejection', async () => {
    const good = file('g2.jsonl', '{"x": 1}\n');
    const missing = join(dir, 'nope.jsonl');
    expect((await failure(collect(readJsonl([missing, good])))).message).toMatch(/nope\.jsonl: file does not exist/);
    const src = readJsonl([missing, good], { onError: 'skip' });
    expect(await collect(src)).toHaveLength(1);
    expect(src.stats.toJSON().rejected).toEqual({ 'missing-file': 1 });
  });
});

describe('readFtdp', () => {
  it('one conversation per line, loss read as str(loss).lower() == "true"', async () => {
    const lines = [
      [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello!', loss: false },
      ],
      [
        { role: 'user', content: '你好' },
        { role: 'assistant', content: '你好！', loss: 'True' },
        { role: 'user', content: 'x' },
        { role: 'assistant', content: 'y', loss: 1 },
      ],
      [
        { role: 'user', content: 'q' },
        { role: 'assistant', content: 'a', loss: true },
      ],
    ];
    const p = file('chat.json', lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    // The flags as xtuner's Python computes them.
    const pyLoss = JSON.parse(
      python(
        'import json,sys\nsys.stdout.write(json.dumps([[str(m["loss"]).lower() == "true" for m in json.loads(l) if "loss" in m] for l in open(sys.argv[1])]))',
        [p],
      ).toString(),
    ) as boolean[][];
    const convs = await collect(readFtdp(p));
    expect(convs.map((c) => c.messages.filter((m) => m.loss !== undefined).map((m) => m.loss))).toEqual(pyLoss);
    expect(convs[1]!.messages[0]).toEqual({ role: 'user', content: '你好' });
    expect(convs[2]!.source.line).toBe(3);
  });

  it('a wrong schema: DataError, or skipped and counted', async () => {
    const p = file(
      'badchat.json',
      '[{"role": "user", "content": "ok"}]\n{"role": "user"}\n[{"role": "user", "content": 5}]\n[{"role": "user", "content": "ok2"}]\n',
    );
    expect((await failure(collect(readFtdp(p)))).message).toMatch(
      /badchat\.json: line 2 \(byte 36\): expected a JSON array of messages/,
    );
    const src = readFtdp(p, { onError: 'skip' });
    expect(await collect(src)).toHaveLength(2);
    expect(src.stats.toJSON().rejected).toEqual({ 'bad-record': 1, 'bad-content': 1 });
    balanced(src.stats);
  });
});

describe('readText', () => {
  it('one document per line; blank lines dropped and counted', async () => {
    const p = file('t.txt', 'First line.\n\n   \n第二行。\r\nlast');
    const src = readText(p);
    const docs = await collect(src);
    expect(docs.map((d) => [d.text, d.source.line])).toEqual([
      ['First line.', 1],
      ['第二行。', 4],
      ['last', 5],
    ]);
    expect(src.stats.toJSON().rejected).toEqual({ empty: 2 });
    balanced(src.stats);
  });
});

describe('readJsonArray', () => {
  it('reads the elements Python reads', async () => {
    const p = file(
      'alpaca.json',
      '[\n  {"instruction": "Add", "input": "1+1", "output": "2"},\n  {"instruction": "翻译", "input": "", "output": "x"}\n]\n',
    );
    const expected = JSON.parse(
      python('import json,sys\nsys.stdout.write(json.dumps(json.load(open(sys.argv[1]))))', [p]).toString(),
    ) as unknown[];
    const recs = await collect(readJsonArray(p));
    expect(recs.map((r) => r.value)).toEqual(expected);
    expect(recs.map((r) => r.index)).toEqual([0, 1]);
  });

  it('malformed, non-array and non-UTF-8 documents: DataError with the line, or counted', async () => {
    const bad = file('bad.json', '[\n  {"a": 1},\n  {"a": 2\n]\n');
    expect((await failure(collect(readJsonArray(bad)))).message).toMatch(
      /bad\.json: line 4 \(byte 24\): malformed JSON at column 1/,
    );
    const obj = file('obj.json', '{"a": 1}');
    expect((await failure(collect(readJsonArray(obj)))).message).toMatch(/obj\.json: expected a JSON array/);
    const latin = file('latin.json', Buffer.from('[\n"caf\xe9"\n]', 'latin1'));
    expect((await failure(collect(readJsonArray(latin)))).message).toMatch(
      /latin\.json: line 2 \(byte 2\): not valid UTF-8/,
    );
    const ok = file('ok.json', '[1, 2, 3]');
    const src = readJsonArray([bad, ok, obj, latin], { onError: 'skip' });
    // Streaming: the elements of bad.json before its broken bracket are read.
    expect((await collect(src)).map((r) => r.value)).toEqual([{ a: 1 }, 1, 2, 3]);
    expect(src.stats.toJSON().rejected).toEqual({ 'malformed-json': 1, 'non-utf8': 1, schema: 1 });
    balanced(src.stats);
  });
});

describe('URLs (local server on 127.0.0.1)', () => {
  let server: Server;
  let base = '';
  let flaky = 0;
  let closedPort = 0;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/a.jsonl') res.end('{"n": 1}\n{"n": 2}\n');
      else if (req.url === '/flaky.jsonl') {
        if (flaky++ < 2) {
          res.statusCode = 503;
          res.end('busy');
        } else res.end('{"n": 3}\n');
      } else if (req.url === '/moved') {
        res.statusCode = 302;
        res.setHeader('location', '/a.jsonl');
        res.end();
      } else if (req.url === '/chat.json') res.end('[{"role": "user", "content": "hi"}]\n');
      else {
        res.statusCode = 404;
        res.end('no');
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const tmp = createServer();
    await new Promise<void>((r) => tmp.listen(0, '127.0.0.1', r));
    closedPort = (tmp.address() as AddressInfo).port;
    await new Promise((r) => tmp.close(r));
  });
  afterAll(() => new Promise((r) => server.close(r)));

  it('reads URLs in input order, following redirects and retrying 5xx', async () => {
    const src = readJsonl([`${base}/a.jsonl`, `${base}/flaky.jsonl`, `${base}/moved`], {
      retryDelayMs: 1,
      concurrency: 3,
    });
    const recs = await collect(src);
    expect(recs.map((r) => (r.value as { n: number }).n)).toEqual([1, 2, 3, 1, 2]);
    expect(recs[1]!.source).toEqual({ file: `${base}/a.jsonl`, line: 2, offset: 9 });
    expect(flaky).toBe(3);
    expect((await collect(readFtdp(`${base}/chat.json`)))[0]!.messages[0]!.content).toBe('hi');
  });

  it('an unreachable URL or a 404: DataError naming the URL, or skipped and counted', async () => {
    const dead = `http://127.0.0.1:${closedPort}/x.jsonl`;
    const e = await failure(collect(readJsonl(dead, { retries: 2, retryDelayMs: 1 })));
    expect(e.message).toMatch(
      new RegExp(`^http://127\\.0\\.0\\.1:${closedPort}/x\\.jsonl: unreachable after 3 attempt\\(s\\) \\(ECONNREFUSED`),
    );
    expect((await failure(collect(readJsonl(`${base}/missing.jsonl`)))).message).toMatch(
      /missing\.jsonl: download failed: HTTP 404/,
    );
    const src = readJsonl([dead, `${base}/a.jsonl`, `${base}/missing.jsonl`], {
      onError: 'skip',
      retries: 1,
      retryDelayMs: 1,
    });
    expect(await collect(src)).toHaveLength(2);
    expect(src.stats.toJSON().rejected).toEqual({ unreachable: 1, 'http-404': 1 });
    balanced(src.stats);
  });
});
