"""bench/ws client on python3-websockets: client.py MODE URL N [CAFILE]"""
import asyncio
import ssl
import sys
import time

import websockets


async def main(mode, url, n, ca):
    kw = dict(compression=None, max_size=None, ping_interval=None)
    if url.startswith("wss:"):
        ctx = ssl.create_default_context(cafile=ca or None)
        kw["ssl"] = ctx
    if mode in ("rt", "big"):
        async with websockets.connect(url, **kw) as ws:
            msg = b"y" * (1 << 20) if mode == "big" else "x" * 64
            lat = []
            t0 = time.perf_counter()
            for _ in range(n):
                s = time.perf_counter()
                await ws.send(msg)
                await ws.recv()
                lat.append(time.perf_counter() - s)
            t = time.perf_counter() - t0
            if mode == "rt":
                lat.sort()
                print(f"{n / t:.0f} {lat[n // 2] * 1e6:.1f} {lat[int(n * 0.99)] * 1e6:.1f}")
            else:
                print(f"{n * len(msg) / 1e6 / t:.1f}")
    elif mode == "stream":
        async with websockets.connect(url, **kw) as ws:
            window = asyncio.Semaphore(1000)

            async def sender():
                for _ in range(n):
                    await window.acquire()
                    await ws.send("x" * 64)
            t0 = time.perf_counter()
            task = asyncio.ensure_future(sender())
            for _ in range(n):
                await ws.recv()
                window.release()
            await task
            print(f"{n / (time.perf_counter() - t0):.0f}")
    elif mode == "connect":
        t0 = time.perf_counter()
        for _ in range(n):
            ws = await websockets.connect(url, **kw)
            await ws.close()
        print(f"{n / (time.perf_counter() - t0):.0f}")
    elif mode == "idle":
        keep = [await websockets.connect(url, **kw)]
        print("START", flush=True)
        await asyncio.sleep(0.5)
        for _ in range(n):
            keep.append(await websockets.connect(url, **kw))
        print("READY", flush=True)
        await asyncio.sleep(1.0)
    sys.stdout.flush()


if __name__ == "__main__":
    a = sys.argv[1:]
    asyncio.run(main(a[0], a[1], int(a[2]), a[3] if len(a) > 3 else ""))
