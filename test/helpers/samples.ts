// The seed README's sample function, shared by every test that needs a working handler.

export const SAMPLE_HANDLER = `from spin_sdk import http
from spin_sdk.http import Request, Response

class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        return Response(
            200,
            {"content-type": "text/plain"},
            bytes("Hello from Blue FaaS!", "utf-8")
        )
`;

/** A handler whose module import takes `seconds` (a tenant's slow start: a large import, a call out). */
export const slowImportHandler = (seconds: number): string => `import time
from spin_sdk import http
from spin_sdk.http import Request, Response

time.sleep(${seconds})

class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        return Response(200, {"content-type": "text/plain"}, b"slow to start")
`;

/** A handler that sleeps `seconds` in every request: a call still running when the server stops. */
export const sleepingHandler = (seconds: number): string => `import time
from spin_sdk import http
from spin_sdk.http import Request, Response

class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        time.sleep(${seconds})
        return Response(200, {"content-type": "text/plain"}, b"slept")
`;
