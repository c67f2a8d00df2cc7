#!/usr/bin/python3
"""wsclient.py - a tiny interactive WebSocket client for trying Parley by hand.

    /usr/bin/python3 deploy/local/wsclient.py 'ws://127.0.0.1:8080/ws?token=TOKEN'

Prints every frame the server sends (one JSON per line); every line typed on
stdin is sent as one text frame, e.g.
    {"id":1,"type":"message","channel":"C…","text":"hi"}
A line that is not JSON is sent as a message to the channel given with
--channel. Ctrl-D or Ctrl-C quits.
"""
import argparse
import asyncio
import itertools
import json
import sys

import websockets


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("--channel", help="send plain lines as messages to this channel")
    args = p.parse_args()
    ids = itertools.count(1)
    async with websockets.connect(args.url, max_size=None) as ws:
        async def reader():
            async for frame in ws:
                print("<", frame, flush=True)
            print("(closed %s %s)" % (ws.close_code, ws.close_reason), flush=True)

        async def writer():
            loop = asyncio.get_running_loop()
            while True:
                line = await loop.run_in_executor(None, sys.stdin.readline)
                if not line:
                    return
                line = line.strip()
                if not line:
                    continue
                try:
                    json.loads(line)
                except ValueError:
                    if not args.channel:
                        print("(not JSON; use --channel C… to send plain text)")
                        continue
                    line = json.dumps({"id": next(ids), "type": "message",
                                       "channel": args.channel, "text": line})
                await ws.send(line)
        r = asyncio.ensure_future(reader())
        w = asyncio.ensure_future(writer())
        await asyncio.wait([r, w], return_when=asyncio.FIRST_COMPLETED)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
