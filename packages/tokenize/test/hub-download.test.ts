import { createServer } from 'node:http';
import { cpSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../tools/test/temp-dir.ts';
import { resolveHubTokenizer } from '../src/hub.ts';
import { defaultTokenizerDir } from '../src/tokenizer.ts';

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
      const home = tempDir('weft-hfdl-');
      const env = { HF_HOME: home, HF_ENDPOINT: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
      const notes: string[] = [];
      const dir = await resolveHubTokenizer('acme/tiny', { env, log: (l) => notes.push(l) });
      expect(notes).toEqual([
        `tokenizer acme/tiny: not in the Hugging Face cache (${join(home, 'hub', 'models--acme--tiny')}); downloading its tokenizer files from ${env.HF_ENDPOINT} (HF_HUB_OFFLINE=1 never downloads)`,
      ]);
      const repo = join(home, 'hub', 'models--acme--tiny');
      expect(dir).toBe(join(repo, 'snapshots', 'c0ffee'));
      expect(readFileSync(join(repo, 'refs', 'main'), 'utf8')).toBe('c0ffee');
      expect(
        readFileSync(join(dir, 'tokenizer.json')).equals(readFileSync(join(defaultTokenizerDir(), 'tokenizer.json'))),
      ).toBe(true);
      expect(existsSync(join(dir, 'tokenizer_config.json'))).toBe(true);
      const n = requests.length;
      expect(await resolveHubTokenizer('acme/tiny', { env: { ...env, HF_HUB_OFFLINE: '1' } })).toBe(dir);
      expect(requests.length).toBe(n); // served from the cache
      await expect(resolveHubTokenizer('acme/none', { env, log: () => {} })).rejects.toThrow(
        /neither tokenizer\.json nor tokenizer\.model/,
      );
    } finally {
      server.close();
    }
  });
});

describe('hub ids without a network', () => {
  it('uses a cached snapshot that has no refs/main (a cache filled by commit), offline, without asking the network', async () => {
    const home = tempDir('weft-hfc-');
    const snap = join(home, 'hub', 'models--acme--byhash', 'snapshots', '0123abcd');
    mkdirSync(snap, { recursive: true });
    cpSync(join(defaultTokenizerDir(), 'tokenizer.json'), join(snap, 'tokenizer.json'));
    const env = { HF_HOME: home, HF_HUB_OFFLINE: '1' };
    expect(await resolveHubTokenizer('acme/byhash', { env })).toBe(snap);
    // Not offline either: a cached tokenizer never goes to the network (this endpoint would refuse).
    expect(
      await resolveHubTokenizer('acme/byhash', { env: { HF_HOME: home, HF_ENDPOINT: 'http://127.0.0.1:9' } }),
    ).toBe(snap);
  });

  it('says where it looked and what to do when the hub cannot be reached, and gives up on a hub that never answers', async () => {
    const home = tempDir('weft-hfn-');
    const repoDir = join(home, 'hub', 'models--acme--absent');
    const advice = new RegExp(
      `looked in the Hugging Face cache at ${repoDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(set HF_HOME or HF_HUB_CACHE.*huggingface-cli download acme/absent tokenizer\\.json.*HF_HUB_OFFLINE=1, or pass --tokenizer <folder with tokenizer\\.json>`,
    );
    await expect(resolveHubTokenizer('acme/absent', { env: { HF_HOME: home, HF_HUB_OFFLINE: '1' } })).rejects.toThrow(
      advice,
    );
    // Port 9 (discard) refuses: the download fails at once, with the same advice.
    await expect(
      resolveHubTokenizer('acme/absent', { env: { HF_HOME: home, HF_ENDPOINT: 'http://127.0.0.1:9' }, log: () => {} }),
    ).rejects.toThrow(/cannot reach http:\/\/127\.0\.0\.1:9 to download it/);
    await expect(
      resolveHubTokenizer('acme/absent', { env: { HF_HOME: home, HF_ENDPOINT: 'http://127.0.0.1:9' }, log: () => {} }),
    ).rejects.toThrow(advice);
    // A firewall that swallows packets: a server that accepts and never answers.
    const sockets: Socket[] = [];
    const silent = createTcpServer((sock) => {
      sockets.push(sock);
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const endpoint = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
      await expect(
        resolveHubTokenizer('acme/absent', {
          env: { HF_HOME: home, HF_ENDPOINT: endpoint },
          timeoutMs: 300,
          log: () => {},
        }),
      ).rejects.toThrow(/no answer in 0\.3 s/);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });
});
