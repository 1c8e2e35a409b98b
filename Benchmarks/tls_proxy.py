#!/usr/bin/env python3
"""HTTPS in front of the emulator, to measure the client as it talks to TikTok (over TLS):
https://127.0.0.1:LISTEN_PORT is passed on to http://127.0.0.1:TARGET_PORT. Listens on 127.0.0.1 only.

  Benchmarks/tls_proxy.py LISTEN_PORT TARGET_PORT CERT KEY

The client checks the certificate against the machine's trust store: make a throwaway authority and
a certificate for 127.0.0.1 with openssl, copy the authority to /usr/local/share/ca-certificates/,
run update-ca-certificates (remove it afterwards), and set tiktok.base_url to
https://127.0.0.1:LISTEN_PORT/open_api/v1.3.
"""
import asyncio, ssl, sys

async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except Exception:
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass

async def handle(client_reader, client_writer, target):
    try:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target)
    except Exception:
        client_writer.close()
        return
    await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))

async def main():
    listen, target, cert, key = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = await asyncio.start_server(lambda r, w: handle(r, w, target), "127.0.0.1", listen, ssl=context)
    print("listening", flush=True)
    async with server:
        await server.serve_forever()

asyncio.run(main())
