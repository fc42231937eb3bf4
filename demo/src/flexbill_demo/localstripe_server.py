"""Run the local Stripe (localstripe) on 127.0.0.1 only, keeping nothing on disk.

localstripe binds every interface and pickles its state to /tmp by default; flexbill wants neither.
Usage: python -m flexbill_demo.localstripe_server --port 8420
"""

import argparse
import warnings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=DeprecationWarning)

    from aiohttp import web
    from localstripe import resources
    from localstripe.server import app

    resources.Store.dump_to_disk = lambda self=None: None
    resources.Store.try_load_from_disk = lambda self=None: None
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
