import { createServer } from 'node:http';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultTokenizerDir, resolveHubTokenizer } from '../src/index.ts';

describe('hub download (HF_ENDPOINT pointing at a local stand-in for the hub)', () => {
  it('downloads the tokenizer files into models--org--name/snapshots/<x-repo-commit> and refs/main, then serves from the cache', async () => {
    const requests: string[] = [];
    const server = createServer((req, res) => {
      requests.push(req.url!);
      const m = /^\/acme\/tiny\/resolve\/main\/([\w.]+)$/.exec(req.url!);
      const file = m && join(defaultTokenizerDir(), m[1]!);
      if (!file || !existsSync(file)) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'x-repo-commit': 'c0ffee' }).end(readFileSync(file));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const home = mkdtempSync(join(tmpdir(), 'weft-hfdl-'));
      const env = { HF_HOME: home, HF_ENDPOINT: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
      const dir = await resolveHubTokenizer('acme/tiny', { env });
      const repo = join(home, 'hub', 'models--acme--tiny');
      expect(dir).toBe(join(repo, 'snapshots', 'c0ffee'));
      expect(readFileSync(join(repo, 'refs', 'main'), 'utf8')).toBe('c0ffee');
      expect(readFileSync(join(dir, 'tokenizer.json')).equals(readFileSync(join(defaultTokenizerDir(), 'tokenizer.json')))).toBe(true);
      expect(existsSync(join(dir, 'tokenizer_config.json'))).toBe(true);
      const n = requests.length;
      expect(await resolveHubTokenizer('acme/tiny', { env: { ...env, HF_HUB_OFFLINE: '1' } })).toBe(dir);
      expect(requests.length).toBe(n); // served from the cache
      await expect(resolveHubTokenizer('acme/none', { env })).rejects.toThrow(/neither tokenizer\.json nor tokenizer\.model/);
    } finally {
      server.close();
    }
  });
});
