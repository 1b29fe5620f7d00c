"""ftp_server.py: a throwaway FTP server (Debian python3-pyftpdlib) for the datasource tests.

  python3 ftp_server.py PORT HOME_DIR USER PASSWORD
Listens on 127.0.0.1:PORT, one user with read/list rights on HOME_DIR, passive ports chosen by the OS.
Prints "ready" once listening; exits on SIGTERM.
"""
import os
import signal
import sys

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer


def main():
    port, home, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    os.makedirs(home, exist_ok=True)
    with open(os.path.join(home, "hello.txt"), "w") as f:
        f.write("hello\n")
    auth = DummyAuthorizer()
    auth.add_user(user, password, home, perm="elr")
    handler = FTPHandler
    handler.authorizer = auth
    handler.banner = "openroma test ftp"
    handler.masquerade_address = None
    server = FTPServer(("127.0.0.1", port), handler)
    signal.signal(signal.SIGTERM, lambda *_: server.close_all())
    print("ready", flush=True)
    try:
        server.serve_forever(timeout=0.5)
    finally:
        server.close_all()


if __name__ == "__main__":
    import logging
    logging.basicConfig(level=logging.WARNING)
    main()
