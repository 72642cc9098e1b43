"""python -m fasthttp: the command line of `python -m http.server`, on fasthttp.

    python -m fasthttp [port] [-b ADDRESS] [-d DIRECTORY] [-p VERSION] [--cgi]
"""
import argparse
import contextlib
import os
import socket
import sys

from fasthttp import server


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m fasthttp",
        description="Serve a directory over HTTP, like python -m http.server.")
    parser.add_argument("--cgi", action="store_true", help="run as CGI server")
    parser.add_argument("-b", "--bind", metavar="ADDRESS",
                        help="bind to this address (default: all interfaces)")
    parser.add_argument("-d", "--directory", default=os.getcwd(),
                        help="serve this directory (default: current directory)")
    parser.add_argument("-p", "--protocol", metavar="VERSION", default="HTTP/1.0",
                        help="conform to this HTTP version (default: %(default)s)")
    parser.add_argument("port", default=8000, type=int, nargs="?",
                        help="bind to this port (default: %(default)s)")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    handler_class = (server.CGIHTTPRequestHandler if args.cgi
                     else server.SimpleHTTPRequestHandler)

    class DualStackServer(server.ThreadingHTTPServer):
        # As http.server's CLI: accept IPv4 on an IPv6 socket where possible.
        def server_bind(self):
            with contextlib.suppress(Exception):
                self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            return super().server_bind()

        def finish_request(self, request, client_address):
            self.RequestHandlerClass(request, client_address, self,
                                     directory=args.directory)

    server.test(HandlerClass=handler_class, ServerClass=DualStackServer,
                port=args.port, bind=args.bind, protocol=args.protocol)


if __name__ == "__main__":
    sys.exit(main())
