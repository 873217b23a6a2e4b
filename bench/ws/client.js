// bench/ws client on Node with npm ws@8: node client.js MODE URL N [CAFILE]
const WebSocket = require('ws');
const fs = require('fs');
const [mode, url, nstr, ca] = process.argv.slice(2);
const N = parseInt(nstr, 10);
const opts = { perMessageDeflate: false };
if (ca) opts.ca = fs.readFileSync(ca);
const now = () => Number(process.hrtime.bigint()) / 1e9;
const open = () => new Promise((res, rej) => {
  const ws = new WebSocket(url, opts);
  ws.once('open', () => res(ws));
  ws.once('error', rej);
});
const out = (s) => process.stdout.write(s + '\n');

async function main() {
  if (mode === 'rt' || mode === 'big') {
    const ws = await open();
    const msg = mode === 'big' ? Buffer.alloc(1 << 20, 'y') : 'x'.repeat(64);
    const lat = [];
    let i = 0, t0, s;
    await new Promise((res) => {
      ws.on('message', () => {
        if (mode === 'rt' && i > 0) lat.push(now() - s);
        if (i === N) return res();
        i++;
        s = now();
        ws.send(msg);
      });
      t0 = now(); i = 1; s = now(); ws.send(msg);
    });
    const t = now() - t0;
    if (mode === 'rt') {
      lat.sort((a, b) => a - b);
      out(`${(N / t).toFixed(0)} ${(lat[N >> 1] * 1e6).toFixed(1)} ${(lat[Math.floor(N * 0.99)] * 1e6).toFixed(1)}`);
    } else {
      out(((N * msg.length) / 1e6 / t).toFixed(1));
    }
    ws.close();
  } else if (mode === 'stream') {
    const ws = await open();
    const msg = 'x'.repeat(64);
    let sent = 0, got = 0;
    const t0 = now();
    await new Promise((res) => {
      const pump = () => { while (sent < N && sent - got < 1000) { ws.send(msg); sent++; } };
      ws.on('message', () => { got++; if (got === N) res(); else pump(); });
      pump();
    });
    out((N / (now() - t0)).toFixed(0));
    ws.close();
  } else if (mode === 'connect') {
    const t0 = now();
    for (let i = 0; i < N; i++) {
      const ws = await open();
      await new Promise((res) => { ws.once('close', res); ws.close(); });
    }
    out((N / (now() - t0)).toFixed(0));
  } else if (mode === 'scale') {
    // N idle connections one after another, then round trips on the first
    const RT = 5000;
    const first = await open();
    const keep = [];
    out('START');
    await new Promise((r) => setTimeout(r, 500));
    const c0 = now();
    for (let i = 0; i < N; i++) keep.push(await open());
    out(`READY ${(now() - c0).toFixed(3)}`);
    await new Promise((r) => setTimeout(r, 500));
    const msg = 'x'.repeat(64);
    const lat = [];
    let i = 0, s;
    const t0 = now();
    await new Promise((res) => {
      first.on('message', () => {
        lat.push(now() - s);
        if (++i === RT) return res();
        s = now();
        first.send(msg);
      });
      s = now();
      first.send(msg);
    });
    const t = now() - t0;
    lat.sort((a, b) => a - b);
    out(`${(RT / t).toFixed(0)} ${(lat[RT >> 1] * 1e6).toFixed(1)} ${(lat[Math.floor(RT * 0.99)] * 1e6).toFixed(1)}`);
    process.exit(0);
  } else if (mode === 'idle') {
    const keep = [await open()];
    out('START');
    await new Promise((r) => setTimeout(r, 500));
    for (let i = 0; i < N; i++) keep.push(await open());
    if (global.gc) global.gc();
    out('READY');
    await new Promise((r) => setTimeout(r, 1000));
    process.exit(0);
  }
}
main().catch((e) => { console.error(e); process.exit(1); });
